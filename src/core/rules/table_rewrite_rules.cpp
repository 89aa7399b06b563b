// vacuum-full, cluster, set-logged, set-unlogged, set-tablespace, set-access-method: each
// rewrites the whole table under ACCESS EXCLUSIVE and has no online form inside PostgreSQL.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {
namespace {

struct RewriteRule {
  const char *rule;
  const char *what;
  const char *alternative;
};

RewriteRule rewrite_rule_for(OpKind kind) {
  switch (kind) {
    case OpKind::VacuumFull:
      return {"vacuum-full", "VACUUM FULL",
              "Plain VACUUM makes the space reusable without blocking anything:\nVACUUM "
              "(VERBOSE, ANALYZE) %t;\nTo give the space back to the operating system online, "
              "use pg_repack or pg_squeeze."};
    case OpKind::Cluster:
      return {"cluster", "CLUSTER",
              "Reorder the table online with pg_repack (--order-by) or pg_squeeze."};
    case OpKind::SetLogged:
      return {"set-logged", "SET LOGGED",
              "Copy the rows into a new logged table in batches (zd_backfill) and switch over, "
              "or run it in a maintenance window."};
    case OpKind::SetUnlogged:
      return {"set-unlogged", "SET UNLOGGED",
              "Copy the rows into a new unlogged table in batches and switch over, or run it in "
              "a maintenance window."};
    case OpKind::SetTablespace:
      return {"set-tablespace", "SET TABLESPACE",
              "Move the table online with pg_repack --tablespace."};
    default:
      return {"set-access-method", "SET ACCESS METHOD",
              "Create a table with the new access method, fill it in batches and switch over."};
  }
}

std::string replace_table(std::string text, const std::string &table) {
  const std::string marker = "%t";
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at))
    text.replace(at, marker.size(), table);
  return text;
}

// How to run it anyway in a maintenance window: allowed for this statement alone.
std::string maintenance_window(const Operation &op, const std::string &rule) {
  return "Or, in a maintenance window, allow it for this statement:\n" +
         allow_for_statement(rule, op.statement_sql) + "\n" + kWhoMayAllow;
}

}  // namespace

RuleResult table_rewrite(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  // SET TABLESPACE to the tablespace the table is in already changes nothing (PostgreSQL
  // returns without touching it).
  if (op.kind == OpKind::SetTablespace && op.tablespace_unchanged) return std::nullopt;
  RewriteRule r = rewrite_rule_for(op.kind);
  if (op.command == "ALTER INDEX ... SET TABLESPACE")
    r.alternative = "Build a copy online and swap: CREATE INDEX CONCURRENTLY with the same "
                    "definition and TABLESPACE <target>, DROP INDEX CONCURRENTLY the old one, "
                    "then rename the copy (or pg_repack --only-indexes --tablespace).";
  return make_refusal(
      r.rule,
      std::string(r.rule) + ": " + r.what + " on " + op.table.name +
          " would rewrite it under an ACCESS EXCLUSIVE lock",
      lock_detail(op, Lock::AccessExclusive, "while it rewrites every row and every index"),
      replace_table(r.alternative, op.table.name) + "\n" + maintenance_window(op, r.rule));
}

}  // namespace zd::rules
