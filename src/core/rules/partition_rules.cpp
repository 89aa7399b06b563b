// attach-partition: ATTACH PARTITION scans the partition under ACCESS EXCLUSIVE to check its
// rows fit the bound, unless a valid CHECK constraint already implies the bound.
// detach-partition: DETACH PARTITION ... CONCURRENTLY exists since PostgreSQL 14.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {

RuleResult attach_partition(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.partition_check_implied || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  const std::string problem =
      op.scans_default_partition
          ? op.command.str() + " would scan the default partition " + op.table.name.str() +
                " under an ACCESS EXCLUSIVE lock"
          : "ATTACH PARTITION " + op.table.name.str() + " would scan it under an ACCESS EXCLUSIVE lock";
  const std::string detail = lock_detail(
      op, Lock::AccessExclusive,
      op.scans_default_partition ? "while it checks that none of its rows belongs to the new "
                                   "partition"
                                 : "while it checks that every row fits the partition bound");
  const std::string alter = "ALTER TABLE " + op.table.name + " ";
  if (op.partition_check_sql.empty())  // the bound's constraint could not be worked out safely
    return make_refusal(
        "attach-partition", "attach-partition: " + problem, detail,
        std::string(op.scans_default_partition
                        ? "Add to the default partition a CHECK constraint that excludes the new "
                          "bound"
                        : "Add a CHECK constraint that states the partition bound") +
            ", NOT VALID, validate it (SHARE UPDATE EXCLUSIVE: reads and writes go on), then run "
            "the statement: it skips its scan.\n" +
            alter + "ADD CONSTRAINT <name> CHECK (" +
            (op.scans_default_partition ? "NOT (<the new bound as a condition>)"
                                        : "<the bound as a condition>") +
            ") NOT VALID;\n" +
            alter + "VALIDATE CONSTRAINT <name>;\n" + op.statement_sql + ";\n" + alter +
            "DROP CONSTRAINT <name>;");
  const std::string helper = op.constraint_name;
  Step add;
  add.sql = alter + "ADD CONSTRAINT " + helper + " CHECK (" + op.partition_check_sql +
            ") NOT VALID";
  add.lock = Lock::AccessExclusive;
  add.effect = "the helper constraint " + helper + " (NOT VALID) on " + op.table.name;
  add.undo_sql = alter + "DROP CONSTRAINT IF EXISTS " + helper;
  Step validate;
  validate.sql = alter + "VALIDATE CONSTRAINT " + helper;
  validate.lock = Lock::ShareUpdateExclusive;
  validate.effect = "the helper constraint " + helper + " validated";
  Step attach;
  attach.sql = op.statement_sql;
  attach.lock = Lock::AccessExclusive;
  attach.effect = op.scans_default_partition ? op.command.str() + " done"
                                             : op.table.name.str() + " attached";
  attach.leaves_on_failure = "the validated helper constraint " + helper;
  attach.cleanup_sql = add.undo_sql;
  Step drop;
  drop.sql = alter + "DROP CONSTRAINT " + helper;
  drop.lock = Lock::AccessExclusive;
  drop.leaves_on_failure = "the helper constraint " + helper + " (redundant now, harmless)";
  drop.cleanup_sql = add.undo_sql;
  return rewrite_or_refuse(ctx, "attach-partition", problem, detail,
                           {add, validate, attach, drop});
}

RuleResult detach_partition(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.concurrently || exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  const std::string problem = "DETACH PARTITION from " + op.table.name + " would block every query on it";
  const std::string detail = lock_detail(op, op.lock, "until every running query on it has finished");
  if (op.concurrently_at < 0)
    return make_refusal("detach-partition", "detach-partition: " + problem,
                        detail + " DETACH PARTITION ... CONCURRENTLY is impossible while the "
                                 "table has a default partition.",
                        "Detach it in a maintenance window, allowing this rule for this "
                        "statement:\n" + allow_for_statement("detach-partition", op.statement_sql) +
                            "\n" + kWhoMayAllow);
  Step step;
  step.sql = insert_at(op.statement_sql, op.concurrently_at, " CONCURRENTLY");
  step.lock = Lock::ShareUpdateExclusive;
  step.leaves_on_failure = "the partition in the detach-pending state";
  step.cleanup_sql = "ALTER TABLE " + op.table.name + " DETACH PARTITION " + op.partition_name +
                     " FINALIZE";
  return rewrite_or_refuse(ctx, "detach-partition", problem, detail, {step});
}

}  // namespace zd::rules
