// vacuum-full, cluster, repack, set-logged, set-unlogged, set-tablespace, set-access-method:
// each rewrites the whole table under ACCESS EXCLUSIVE.  None has an online form inside
// PostgreSQL before 19; on 19, REPACK (CONCURRENTLY) rebuilds (and reorders) a table online,
// the alternative vacuum-full, cluster and repack offer where it can run.
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
    case OpKind::Repack:  // 19 only; what is said when REPACK (CONCURRENTLY) cannot run
      return {"repack", "REPACK", "Plain VACUUM makes the space reusable without blocking anything:\n"
              "VACUUM (VERBOSE, ANALYZE) %t;"};
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

std::string replace_table(std::string text, const std::string &table,
                          const std::string &marker = "%t") {
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at))
    text.replace(at, marker.size(), table);
  return text;
}

// 19: REPACK (CONCURRENTLY) copies the table under SHARE UPDATE EXCLUSIVE (reads and writes go
// on) and holds ACCESS EXCLUSIVE only to swap the copy in.  It needs one table (not a
// partitioned one) with an identity index (it replays the changes made meanwhile by it).
constexpr int kRepackVersion = 190000;

// The REPACK (CONCURRENTLY) the operation can be replaced with, as the start of its
// alternative, or "" when there is none (before 19, every table of the database).
std::string repack_concurrently(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (ctx.stmt.server_version_num < kRepackVersion || op.table.oid == 0 ||
      (op.kind != OpKind::VacuumFull && op.kind != OpKind::Cluster && op.kind != OpKind::Repack))
    return "";
  const std::string using_index =
      op.orders_by_index
          ? " USING INDEX" + (op.index_name.empty() ? std::string() : " " + op.index_name.str())
          : "";
  const std::string statement = "REPACK (CONCURRENTLY) " + op.table.name.str() + using_index + ";";
  if (op.table.partitioned)
    return "REPACK (CONCURRENTLY) rebuilds a table online but not a partitioned one: run it on "
           "each partition of " + op.table.name.str() + " (each with a primary key), outside a "
           "transaction block: REPACK (CONCURRENTLY) <partition>" + using_index + ";\n";
  if (!op.identity_index)
    return "REPACK (CONCURRENTLY) would rebuild it online, but needs an identity index, which " +
           op.table.name.str() + " has not: give it a primary key (CREATE UNIQUE INDEX "
           "CONCURRENTLY, then ALTER TABLE ... ADD PRIMARY KEY USING INDEX), then run, outside a "
           "transaction block:\n" + statement + "\n";
  return std::string(op.orders_by_index ? "Reorder" : "Rebuild") +
         " it online, outside a transaction block (reads and writes go on; ACCESS EXCLUSIVE "
         "only to swap the copy in at the end):\n" + statement + "\n";
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
  // 19: PostgreSQL's own online form first, where it can run.
  // Every table of the database (no OID): the alternative's statements name none either.
  const std::string alternative =
      repack_concurrently(ctx) +
      (op.table.oid == 0 ? replace_table(r.alternative, "", " %t")
                         : replace_table(r.alternative, op.table.name));
  return make_refusal(
      r.rule,
      std::string(r.rule) + ": " + r.what + " on " + op.table.name +
          " would rewrite it under an ACCESS EXCLUSIVE lock",
      lock_detail(op, Lock::AccessExclusive, "while it rewrites every row and every index"),
      alternative + "\n" + maintenance_window(op, r.rule));
}

}  // namespace zd::rules
