#include "core/rules/common.hpp"

#include <algorithm>

#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "core/pg_free.hpp"
#include "core/zd_error.hpp"

namespace zd::rules {

bool RuleContext::can_rewrite() const {
  return stmt.tx == TxContext::Autocommit && stmt.changes() == 1;
}

bool exempt_from_lock_rules(const TableFacts &table, const Policy &policy) {
  if (!table.exists || table.created_in_transaction || table.temporary) return true;
  return policy.small_table_bytes > 0 && table.size_known &&
         table.size_bytes < policy.small_table_bytes;
}

bool exempt_from_breaking_rules(const TableFacts &table) {
  return !table.exists || table.created_in_transaction || table.temporary || table.empty;
}

std::string format_bytes(int64_t bytes) {
  static const char *const kUnits[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 * 10 && unit < 5) {  // like pg_size_pretty: switch units above 10x
    value /= 1024.0;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f %s", std::round(value), kUnits[unit]);
  return buf;
}

std::string describe_table(const TableFacts &table) {
  std::string text = table.name;
  if (!table.size_known) return text + " (size unknown)";
  text += " (" + format_bytes(table.size_bytes);
  if (table.estimated_rows >= 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ", ~%.0f rows", table.estimated_rows);
    text += buf;
  }
  return text + ")";
}

std::string lock_with_article(Lock lock) {
  return std::string(lock == Lock::AccessExclusive ? "an " : "a ") + lock_name(lock) + " lock";
}

std::string lock_detail(const Operation &op, Lock lock, const std::string &duration) {
  return op.command + " takes " + lock_with_article(lock) + " on " + describe_table(op.table) +
         ", which blocks " + lock_blocks(lock) + ", " + duration + ".";
}

std::string quote_literal_text(const std::string &text) {
  std::string quoted;
  for (char c : text) quoted += (c == '\'') ? std::string("''") : std::string(1, c);
  return quoted;
}

std::string insert_at(const std::string &sql, int at, const std::string &text) {
  return replace_range(sql, at, at, text);
}

std::string replace_range(const std::string &sql, int from, int to, const std::string &text) {
  if (from < 0 || to < from || static_cast<size_t>(to) > sql.size())
    throw ZdError(sqlstate::kInternal, "zero_downtime: rewrite position out of range");
  return sql.substr(0, from) + text + sql.substr(to);
}

const char *const kWhoMayAllow =
    "(the comment counts for a role that may set zero_downtime.allow: a superuser, or one "
    "granted SET ON PARAMETER zero_downtime.allow)";

std::string allow_for_statement(const std::string &rule, const std::string &sql) {
  return "/* zero_downtime: allow " + rule + " */ " + sql + ";";
}

namespace {

struct ToolAdvice {
  MigrationTool tool;
  const char *name;
  const char *how;  // how to run one statement outside a transaction block with it
};

const ToolAdvice kToolAdvice[] = {
    {MigrationTool::Psql, "psql",
     "send each statement on its own (not in BEGIN ... COMMIT, not several in one -c)."},
    {MigrationTool::Knex, "Knex", "in that migration, exports.config = { transaction: false };"},
    {MigrationTool::NodePgMigrate, "node-pg-migrate",
     "call pgm.noTransaction() in that migration."},
    {MigrationTool::Prisma, "Prisma Migrate",
     "put each statement in a migration file of its own: a file is sent as one transaction."},
    {MigrationTool::Drizzle, "Drizzle Kit",
     "its migrator wraps migrations in one transaction; run the statement from a script of its "
     "own, outside migrate()."},
};

const ToolAdvice *advice_for(MigrationTool tool) {
  for (const ToolAdvice &a : kToolAdvice)
    if (a.tool == tool) return &a;
  return nullptr;
}

}  // namespace

std::string outside_transaction_hint(const RuleContext &ctx, const std::string &safe_sql) {
  std::string hint = "Run instead, outside any transaction block:\n" + safe_sql;
  const ToolAdvice *running = advice_for(ctx.stmt.tool);
  for (const ToolAdvice &a : kToolAdvice)
    if (running == nullptr || running == &a) hint += "\n" + std::string(a.name) + ": " + a.how;
  return hint;
}

std::string run_outside_instruction(const RuleContext &ctx, const std::vector<Step> &steps) {
  const ToolAdvice *running = advice_for(ctx.stmt.tool);
  if (running != nullptr) {
    std::string how = running->how;
    if (how.back() == '.') how.pop_back();
    return "; run its safe form outside the transaction (" + std::string(running->name) + ": " +
           how + ")";
  }
  // No tool known: the safe SQL itself (some tools print only this line), in full when short.
  std::string first = steps.empty() ? std::string() : steps.front().sql;
  if (first.size() > 200) first = first.substr(0, 197) + "...";
  if (first.empty()) return "; run its safe form (HINT) outside a transaction block";
  return "; run it outside a transaction block as: " + first +
         (steps.size() > 1 ? " (and " + std::to_string(steps.size() - 1) + " more, HINT)" : "");
}

std::string why_no_rewrite(const RuleContext &ctx) {
  if (ctx.stmt.changes() > 1)
    return "it is one of several changes in one ALTER TABLE";
  switch (ctx.stmt.tx) {
    case TxContext::TransactionBlock:
      return "it runs inside a transaction block, and the safe form must commit between its steps";
    case TxContext::Nested:
      return "it runs inside a function, procedure or DO block, and the safe form must commit "
             "between its steps";
    case TxContext::Autocommit:
      break;
  }
  return "it cannot be rewritten here";
}

std::string name_literal(const std::string &id) {
  std::string name;
  if (!id.empty() && id[0] == '"') {
    for (size_t i = 1; i < id.size(); i++) {
      if (id[i] == '"' && i + 1 < id.size() && id[i + 1] == '"') {
        name += '"';
        i++;
      } else if (id[i] == '"') {
        break;
      } else {
        name += id[i];
      }
    }
  } else {
    name = id;
  }
  return "'" + quote_literal_text(name) + "'";
}

std::string expand_contract_calls(const std::string &expand_call, const std::string &new_code) {
  return "SELECT " + expand_call + ";  -- returns the migration's id\n"
         "SELECT zd_migrate(<id>);  -- after commit: the backfill, the index copies\n"
         "-- deploy the code that " + new_code + ", then:\n"
         "SELECT zd_contract(<id>);\n"
         "(zd_* calls need CREATE EXTENSION zero_downtime; SELECT * FROM zd_migrations shows "
         "where it is.)";
}

Finding make_refusal(const std::string &rule, std::string message, std::string detail,
                     std::string hint) {
  Finding f;
  f.rule = rule;
  f.verdict = Verdict::Refuse;
  f.sqlstate = sqlstate::kRefused;
  f.message = std::move(message);
  f.detail = std::move(detail);
  f.hint = std::move(hint);
  return f;
}

Finding make_rewrite(const std::string &rule, std::string message, std::string detail,
                     std::vector<Step> steps) {
  Finding f;
  f.rule = rule;
  f.verdict = Verdict::Rewrite;
  f.message = std::move(message);
  f.detail = std::move(detail);
  f.steps = std::move(steps);
  f.hint = "The safe form, each statement in its own transaction:\n" + steps_sql(f.steps);
  return f;
}

std::string steps_sql(const std::vector<Step> &steps) {
  std::string text;
  for (const Step &s : steps) {
    if (!text.empty()) text += "\n";
    text += s.sql + ";";
  }
  return text;
}

Finding make_deferral(const std::string &rule, const std::string &problem,
                      const std::string &detail, std::vector<Step> steps,
                      const Deferral &deferral) {
  Finding f;
  f.rule = rule;
  f.verdict = Verdict::Defer;
  f.message = rule + ": " + problem + "; deferred: its safe form runs after this transaction "
              "commits";
  steps.resize(std::min(deferral.now_steps, steps.size()));
  std::string now = steps_sql(steps);
  f.detail = detail + (now.empty() ? " Nothing runs in this transaction." :
                                     " Runs now, in this transaction:\n" + now) +
             "\nAfter it commits, a background worker runs, each on its own with its safe form:";
  for (const std::string &later : deferral.later) f.detail += "\n" + later + ";";
  if (!deferral.consequence.empty()) f.detail += "\n" + deferral.consequence;
  f.hint = "SELECT * FROM zd_deferred_status shows how it goes; CALL zd_deferred_wait(); waits "
           "for it.";
  if (!deferral.undo_on_failure.empty())
    f.detail += "\nShould that fail, the worker runs: " + deferral.undo_on_failure + ";";
  f.steps = std::move(steps);
  f.deferred_sql = deferral.later;
  f.deferred_undo = deferral.undo_on_failure;
  return f;
}

Finding rewrite_or_refuse(const RuleContext &ctx, const std::string &rule,
                          const std::string &problem, const std::string &detail,
                          std::vector<Step> steps, const Deferral *deferral) {
  if (ctx.can_rewrite())
    return make_rewrite(rule, rule + ": " + problem, detail, std::move(steps));
  if (deferral != nullptr && ctx.stmt.deferral_available && ctx.stmt.changes() == 1)
    return make_deferral(rule, problem, detail, std::move(steps), *deferral);
  // The instruction goes into the primary message too: some tools print nothing else (Knex).
  const std::string instruction =
      ctx.stmt.tx == TxContext::Autocommit ? "" : run_outside_instruction(ctx, steps);
  return make_refusal(rule, rule + ": " + problem + instruction,
                      detail + " zero_downtime cannot run the safe form for you: " +
                          why_no_rewrite(ctx) + ".",
                      outside_transaction_hint(ctx, steps_sql(steps)));
}

}  // namespace zd::rules
