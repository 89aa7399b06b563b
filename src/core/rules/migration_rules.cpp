// migration-owned: DDL from outside the expand/contract engine on a column an active migration
// owns (its old or new column) would break the migration's trigger or lose what it keeps in
// step, so it is refused, naming the zd_* call that is legal now.  The one exception is the
// point of the migration: DROP COLUMN of its old column when it may contract (it is ready)
// runs its contract (src/pg/guard.cpp), the DROP among the contract's steps.
#include "core/migration_phase.hpp"
#include "core/rules/rules.hpp"
#include "core/zd_error.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {

RuleResult migration_owned(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.migration == 0) return std::nullopt;
  const MigrationPhase phase =
      phase_from_name(op.migration_phase.str()).value_or(MigrationPhase::Expanded);
  const Transition contract = transition(phase, MigrationCall::Contract, op.migration);
  if (op.kind == OpKind::DropColumn && op.migration_old_column && contract.legal &&
      ctx.stmt.changes() == 1)
    return std::nullopt;
  const std::string id = std::to_string(op.migration);
  const std::string what = op.kind == OpKind::DropColumn     ? "DROP COLUMN"
                           : op.kind == OpKind::RenameColumn ? "RENAME COLUMN"
                                                             : "ALTER COLUMN TYPE";
  std::string hint;
  if (op.kind == OpKind::DropColumn && op.migration_old_column) {
    hint = contract.legal
               ? "Drop it on its own (one ALTER TABLE of this one change): that runs the "
                 "migration's contract; or " + call_sql(MigrationCall::Contract, op.migration) + "."
               : "Its contract drops it once the migration is ready; now " + contract.why + ".";
  } else {
    hint = "The migration changes it: " + call_sql(MigrationCall::Contract, op.migration) +
           " once it is ready (SELECT * FROM zd_migrations WHERE id = " + id +
           " shows the next call), or " + call_sql(MigrationCall::Abort, op.migration) +
           " to undo it first.";
  }
  Finding f = make_refusal(
      "migration-owned",
      "migration-owned: " + what + " " + op.column.str() + " on " + op.table.name.str() +
          ": the column belongs to expand/contract migration " + id + " (" +
          op.migration_phase.str() + ")",
      "Migration " + id + " keeps " + op.column.str() + " " +
          (op.migration_old_column ? "(its old column)" : "(its new column)") +
          " in step with the other side through its trigger; changing it from outside would "
          "break writes of old or new code.",
      hint);
  f.sqlstate = sqlstate::kMigrationOwned;
  return f;
}

bool becomes_migration(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (!ctx.policy.orm_renames_migrate || ctx.policy.mode == Mode::Off) return false;
  if (ctx.stmt.changes() != 1 || op.further_lock || op.migration != 0 ||
      op.through_other_object || op.table.partitioned || op.table.temporary)
    return false;
  const char *rule = op.kind == OpKind::RenameColumn      ? "rename-column"
                     : op.kind == OpKind::AlterColumnType ? "alter-column-type"
                                                          : nullptr;
  if (rule == nullptr || ctx.policy.allows(rule)) return false;
  for (const Text &allowed : ctx.stmt.allowed_here)
    if (allowed == rule) return false;  // the statement as written, asked for
  if (op.kind == OpKind::RenameColumn) return !exempt_from_breaking_rules(op.table);
  return op.type_change_rewrites && !exempt_from_lock_rules(op.table, ctx.policy);
}

}  // namespace zd::rules
