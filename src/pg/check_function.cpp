// zd_check(sql, sent_as | in_transaction): what the guard would do with each statement of a
// migration script, without running any of it.  The same gather and decide code as the hook,
// against the live catalog (meant for CI against a copy of production), decided as in enforce
// mode, with what the script's earlier statements did laid over the catalog (check_overlay),
// in the transaction context the way it is sent gives each statement (check_context), and the
// statements of DO blocks judged as the hook judges them inside the block (check_do_block).
#include "core/lock.hpp"
#include "pg/boundary.hpp"
#include "pg/check_context.hpp"
#include "pg/check_do_block.hpp"
#include "pg/check_overlay.hpp"
#include "pg/gather.hpp"
#include "pg/guard.hpp"
#include "pg/plan.hpp"

extern "C" {
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

namespace zd::pg {
namespace {

struct Check {
  ReturnSetInfo *rsinfo;
  ScriptOverlay *overlay;
  SentAs sent_as;
  int number;  // the script's statement being judged (a DO block's statements: the block's)
};

const char *verdict_name(zd::Verdict v) {
  switch (v) {
    case zd::Verdict::Rewrite: return "rewrite";
    case zd::Verdict::Refuse: return "refuse";
    case zd::Verdict::Warn: return "warn";
    case zd::Verdict::Defer: return "defer";
    case zd::Verdict::DeferEach: return "defer each change";
    case zd::Verdict::Allow: break;
  }
  return "allow";
}

void put_row(const Check *c, const char *rule, const char *decision, zd::Lock lock,
             const char *message, const char *detail, const char *safe_sql) {
  Datum values[7] = {Int32GetDatum(c->number),       CStringGetTextDatum(rule),
                     CStringGetTextDatum(decision),  CStringGetTextDatum(zd::lock_name(lock)),
                     CStringGetTextDatum(message),   CStringGetTextDatum(detail),
                     CStringGetTextDatum(safe_sql)};
  bool nulls[7] = {false, false, false, false, false, false, false};
  tuplestore_putvalues(c->rsinfo->setResult, c->rsinfo->setDesc, values, nulls);
}

// A syntax error points into the script (shown as QUERY with a cursor), not into the call.
void script_error_context(void *script) {
  int position = geterrposition();
  if (position > 0) {
    errposition(0);
    internalerrposition(position);
    internalerrquery((const char *) script);
  }
  errcontext("the script passed to zd_check");
}

List *parse_script(const char *script) {
  ErrorContextCallback context{error_context_stack, script_error_context, (void *) script};
  error_context_stack = &context;
  List *statements = raw_parser(script, RAW_PARSE_DEFAULT);
  error_context_stack = context.previous;
  return statements;
}

const char *where_it_runs(const Check *c, zd::TxContext tx) {
  if (tx == zd::TxContext::Nested) return "It runs inside a DO block, as a function's statements do.";
  switch (c->sent_as) {
    case SentAs::QueryString:
      return "The script is sent as one query string (sent_as => 'query_string', as Prisma "
             "Migrate sends a migration file): its statements run in one implicit transaction "
             "block.";
    case SentAs::Transaction:
      return "The script runs inside one transaction (sent_as => 'transaction', as Knex, "
             "Drizzle and node-pg-migrate run a migration).";
    case SentAs::Statements: break;
  }
  return "It runs between BEGIN and COMMIT in the script.";
}

// PostgreSQL refuses it there (SQLSTATE 25001), whatever the guard says.
void report_refused_in_block(const Check *c, const char *command, zd::TxContext tx,
                             const char *sql) {
  put_row(c, "transaction-block", "error", zd::Lock::None,
          psprintf("%s cannot run inside a transaction block or a function: PostgreSQL fails it "
                   "(SQLSTATE 25001)",
                   command),
          where_it_runs(c, tx),
          psprintf("Run it on its own, outside any transaction block:\n%s;\npsql: not in "
                   "BEGIN ... COMMIT, not with other statements in one -c.\nKnex: in that "
                   "migration, exports.config = { transaction: false };\nPrisma Migrate: put the "
                   "statement alone in a migration file of its own.",
                   sql));
}

void judge_statement(Check *c, Node *stmt, const char *text, int location, int length,
                     zd::TxContext tx);

void judge_do_block(Check *c, const DoStmt *stmt, const char *sql) {
  const char *why = nullptr;
  List *items = do_block_items(stmt, &why);
  if (items == nullptr && why != nullptr) {
    put_row(c, "do-block", "unknown", zd::Lock::None,
            psprintf("%s: its statements cannot be judged", why),
            "The guard judges each statement of the block when it runs, as a function's "
            "statements (no rewrite is possible there).",
            sql);
    return;
  }
  ListCell *lc;
  foreach (lc, items) {
    const DoBlockItem *item = (const DoBlockItem *) lfirst(lc);
    switch (item->kind) {
      case DoBlockItem::Dynamic:
        put_row(c, "dynamic-sql", "unknown", zd::Lock::None,
                psprintf("EXECUTE at line %d of the DO block runs SQL known only when it runs",
                         item->line),
                psprintf("zd_check cannot judge EXECUTE %s; the guard judges the statement it "
                         "builds when the block runs (inside a DO block: no rewrite, so a "
                         "dangerous statement is refused).",
                         item->sql),
                "Check the statement it builds with zd_check, or write it as plain SQL.");
        break;
      case DoBlockItem::Commit: overlay_commit(c->overlay); break;
      case DoBlockItem::Rollback: overlay_rollback(c->overlay); break;
      case DoBlockItem::Sql: {
        ListCell *sc;
        foreach (sc, parse_script(item->sql)) {
          RawStmt *raw = lfirst_node(RawStmt, sc);
          judge_statement(c, raw->stmt, item->sql, raw->stmt_location, raw->stmt_len,
                          zd::TxContext::Nested);
        }
        break;
      }
    }
  }
}

void judge_statement(Check *c, Node *stmt, const char *text, int location, int length,
                     zd::TxContext tx) {
  const char *sql = length > 0 ? pnstrdup(text + location, length) : pstrdup(text + location);
  if (tx != zd::TxContext::Autocommit) {
    const char *command = refused_in_transaction_block(stmt);
    if (command != nullptr) report_refused_in_block(c, command, tx, sql);
  }
  if (IsA(stmt, DoStmt)) {
    judge_do_block(c, (const DoStmt *) stmt, sql);
    return;
  }
  zd::StatementFacts *facts = guard_has_rules_for(stmt)
                                  ? gather_statement(stmt, text, location, length, tx)
                                  : nullptr;
  if (facts != nullptr) {
    overlay_apply(c->overlay, stmt, facts);
    GuardPlan *plan = decide_plan(facts, true);
    for (int i = 0; i < plan->n_findings; i++) {
      const PlanFinding &f = plan->findings[i];
      put_row(c, f.rule, verdict_name(plan->verdict), f.lock, f.message, f.detail, f.hint);
    }
    if (plan->n_findings == 0 && zd::blocks_application(plan->cap_lock))
      put_row(c, "lock-cap", "allow", plan->cap_lock,
              psprintf("%s lock on %s: lock_timeout capped", zd::lock_name(plan->cap_lock),
                       plan->capped_table),
              "The statement waits for a lock that blocks the application; the guard caps "
              "lock_timeout and, in autocommit, retries.",
              "");
  }
  overlay_record(c->overlay, stmt, facts);
}

Datum check_script(FunctionCallInfo fcinfo, const char *script, SentAs sent_as) {
  InitMaterializedSRF(fcinfo, 0);
  List *statements = parse_script(script);
  Check c{(ReturnSetInfo *) fcinfo->resultinfo, overlay_create(), sent_as, 0};
  ScriptTransaction t = script_transaction_start(sent_as, list_length(statements));
  ListCell *lc;
  foreach (lc, statements) {
    RawStmt *raw = lfirst_node(RawStmt, lc);
    c.number++;
    if (IsA(raw->stmt, TransactionStmt)) {
      script_transaction_control(&t, c.overlay, (const TransactionStmt *) raw->stmt);
      continue;
    }
    const zd::TxContext tx = script_tx_context(&t);
    judge_statement(&c, raw->stmt, script, raw->stmt_location, raw->stmt_len, tx);
    if (tx == zd::TxContext::Autocommit) overlay_commit(c.overlay);  // its own transaction
  }
  return (Datum) 0;
}

}  // namespace
}  // namespace zd::pg

// zd_check(sql text, sent_as text DEFAULT 'statements')
ZD_SQL_FUNCTION(zd_check_sent_as) {
  using namespace zd::pg;
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zd_check: sql and sent_as must not be NULL")));
  const char *sent_as_text = text_to_cstring(PG_GETARG_TEXT_PP(1));
  SentAs sent_as;
  if (!parse_sent_as(sent_as_text, &sent_as))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("zd_check: sent_as must be %s, not \"%s\"", kSentAsValues,
                           sent_as_text),
                    errhint("'statements': one statement at a time in autocommit (BEGIN ... "
                            "COMMIT in the script count); 'transaction': the whole script in "
                            "one transaction (Knex, Drizzle, node-pg-migrate); 'query_string': "
                            "the whole script as one multi-statement query (Prisma Migrate).")));
  return check_script(fcinfo, text_to_cstring(PG_GETARG_TEXT_PP(0)), sent_as);
}

// zd_check(sql text, in_transaction boolean): the first form, kept.
ZD_SQL_FUNCTION(zd_check) {
  using namespace zd::pg;
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zd_check: sql and in_transaction must not be NULL")));
  return check_script(fcinfo, text_to_cstring(PG_GETARG_TEXT_PP(0)),
                      PG_GETARG_BOOL(1) ? SentAs::Transaction : SentAs::Statements);
}
