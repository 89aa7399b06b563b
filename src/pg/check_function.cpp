// zd_check(sql, in_transaction): what the guard would do with each statement of a migration
// script, without running any of it.  The same gather and decide code as the hook, against the
// live catalog (meant for CI against a copy of production), decided as in enforce mode.
#include "core/lock.hpp"
#include "pg/boundary.hpp"
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

const char *verdict_name(zd::Verdict v) {
  switch (v) {
    case zd::Verdict::Rewrite: return "rewrite";
    case zd::Verdict::Refuse: return "refuse";
    case zd::Verdict::Warn: return "warn";
    case zd::Verdict::Allow: break;
  }
  return "allow";
}

// BEGIN/START TRANSACTION opens a block; COMMIT, ROLLBACK and friends close it.
bool transaction_block_after(const Node *stmt, bool in_block) {
  if (!IsA(stmt, TransactionStmt)) return in_block;
  switch (((const TransactionStmt *) stmt)->kind) {
    case TRANS_STMT_BEGIN:
    case TRANS_STMT_START: return true;
    case TRANS_STMT_COMMIT:
    case TRANS_STMT_ROLLBACK:
    case TRANS_STMT_PREPARE:
    case TRANS_STMT_COMMIT_PREPARED:
    case TRANS_STMT_ROLLBACK_PREPARED: return false;
    default: return in_block;
  }
}

void put_row(ReturnSetInfo *rsinfo, int number, const char *rule, const char *decision,
             zd::Lock lock, const char *message, const char *detail, const char *safe_sql) {
  Datum values[7] = {Int32GetDatum(number),          CStringGetTextDatum(rule),
                     CStringGetTextDatum(decision),  CStringGetTextDatum(zd::lock_name(lock)),
                     CStringGetTextDatum(message),   CStringGetTextDatum(detail),
                     CStringGetTextDatum(safe_sql)};
  bool nulls[7] = {false, false, false, false, false, false, false};
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
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

}  // namespace
}  // namespace zd::pg

ZD_SQL_FUNCTION(zd_check) {
  using namespace zd::pg;
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zd_check: sql and in_transaction must not be NULL")));
  char *script = text_to_cstring(PG_GETARG_TEXT_PP(0));
  bool in_block = PG_GETARG_BOOL(1);
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

  ErrorContextCallback context{error_context_stack, script_error_context, script};
  error_context_stack = &context;
  List *statements = raw_parser(script, RAW_PARSE_DEFAULT);
  error_context_stack = context.previous;
  int number = 0;
  ListCell *lc;
  foreach (lc, statements) {
    RawStmt *raw = lfirst_node(RawStmt, lc);
    number++;
    in_block = transaction_block_after(raw->stmt, in_block);
    if (!guard_has_rules_for(raw->stmt)) continue;
    zd::StatementFacts *facts = gather_statement(
        raw->stmt, script, raw->stmt_location, raw->stmt_len,
        in_block ? zd::TxContext::TransactionBlock : zd::TxContext::Autocommit);
    if (facts == nullptr) continue;  // nothing the guard looks at (a table the script creates)
    GuardPlan *plan = decide_plan(facts, true);
    for (int i = 0; i < plan->n_findings; i++) {
      const PlanFinding &f = plan->findings[i];
      put_row(rsinfo, number, f.rule, verdict_name(plan->verdict), f.lock, f.message, f.detail,
              f.hint);
    }
    if (plan->n_findings == 0 && zd::blocks_application(plan->cap_lock))
      put_row(rsinfo, number, "lock-cap", "allow", plan->cap_lock,
              psprintf("%s lock on %s: lock_timeout capped", zd::lock_name(plan->cap_lock),
                       plan->capped_table),
              "The statement waits for a lock that blocks the application; the guard caps "
              "lock_timeout and, in autocommit, retries.",
              "");
  }
  return (Datum) 0;
}
