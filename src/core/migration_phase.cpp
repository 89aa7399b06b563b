#include "core/migration_phase.hpp"

#include "core/pg_free.hpp"

namespace zd {

namespace {
const MigrationPhase kAllPhases[] = {MigrationPhase::Expanded, MigrationPhase::Migrating,
                                     MigrationPhase::Ready, MigrationPhase::Complete,
                                     MigrationPhase::Aborted};
}

const char *phase_name(MigrationPhase phase) {
  switch (phase) {
    case MigrationPhase::Expanded: return "expanded";
    case MigrationPhase::Migrating: return "migrating";
    case MigrationPhase::Ready: return "ready";
    case MigrationPhase::Complete: return "complete";
    case MigrationPhase::Aborted: return "aborted";
  }
  return "?";
}

std::optional<MigrationPhase> phase_from_name(const std::string &name) {
  for (MigrationPhase p : kAllPhases)
    if (name == phase_name(p)) return p;
  return std::nullopt;
}

const char *call_name(MigrationCall call) {
  switch (call) {
    case MigrationCall::Migrate: return "zd_migrate";
    case MigrationCall::MarkReady: return "zd_migration_ready";
    case MigrationCall::Contract: return "zd_contract";
    case MigrationCall::Abort: return "zd_abort";
  }
  return "?";
}

std::string call_sql(MigrationCall call, int64_t id) {
  return std::string("SELECT ") + call_name(call) + "(" + std::to_string(id) + ")";
}

const char *kind_name(MigrationKind kind) {
  switch (kind) {
    case MigrationKind::RenameColumn: return "rename column";
    case MigrationKind::ChangeType: return "change type";
    case MigrationKind::SetNotNull: return "set not null";
    case MigrationKind::AddColumn: return "add column";
  }
  return "?";
}

std::optional<MigrationKind> kind_from_name(const std::string &name) {
  for (MigrationKind k : {MigrationKind::RenameColumn, MigrationKind::ChangeType,
                          MigrationKind::SetNotNull, MigrationKind::AddColumn})
    if (name == kind_name(k)) return k;
  return std::nullopt;
}

const char *expand_call_name(MigrationKind kind) {
  switch (kind) {
    case MigrationKind::RenameColumn: return "zd_expand_rename_column";
    case MigrationKind::ChangeType: return "zd_expand_change_type";
    case MigrationKind::SetNotNull: return "zd_expand_set_not_null";
    case MigrationKind::AddColumn: return "zd_expand_add_column";
  }
  return "?";
}

bool kind_retires_old_column(MigrationKind kind) {
  return kind == MigrationKind::RenameColumn || kind == MigrationKind::ChangeType;
}

bool phase_is_active(MigrationPhase phase) {
  return phase != MigrationPhase::Complete && phase != MigrationPhase::Aborted;
}

namespace {

Transition to(MigrationPhase phase) { return Transition{true, phase, ""}; }

Transition refused(const std::string &why) {
  return Transition{false, MigrationPhase::Expanded, why};
}

}  // namespace

namespace {

// What migrate does for a migration of `kind`, as the refusal of an early contract says it.
std::string not_migrated_yet(MigrationKind kind) {
  switch (kind) {
    case MigrationKind::SetNotNull:
      return "its rows holding NULL are not filled and its NOT NULL check is not validated yet";
    case MigrationKind::AddColumn: return "its new column is not filled for the existing rows yet";
    default: return "its new column is not filled yet";
  }
}

}  // namespace

Transition transition(MigrationPhase phase, MigrationCall call, int64_t id, MigrationKind kind) {
  const std::string migrate = call_sql(MigrationCall::Migrate, id);
  const std::string contract = call_sql(MigrationCall::Contract, id);
  const std::string abort = call_sql(MigrationCall::Abort, id);
  switch (phase) {
    case MigrationPhase::Expanded:
      if (call == MigrationCall::Migrate) return to(MigrationPhase::Migrating);
      if (call == MigrationCall::Abort) return to(MigrationPhase::Aborted);
      if (call == MigrationCall::MarkReady)
        return refused("it is not migrating: " + migrate + " first");
      return refused(not_migrated_yet(kind) + ": " + migrate +
                     " first (or " + abort + " to undo the expand)");
    case MigrationPhase::Migrating:
      // Again: resumes work that was interrupted or failed (each queued step is idempotent).
      if (call == MigrationCall::Migrate) return to(MigrationPhase::Migrating);
      if (call == MigrationCall::MarkReady) return to(MigrationPhase::Ready);
      if (call == MigrationCall::Abort) return to(MigrationPhase::Aborted);
      return refused("its migrate work has not finished: CALL zd_deferred_wait() waits for it; "
                     "if it failed, " + migrate + " resumes it (or " + abort + ")");
    case MigrationPhase::Ready:
      if (call == MigrationCall::Contract) return to(MigrationPhase::Complete);
      if (call == MigrationCall::Abort) return to(MigrationPhase::Aborted);
      return to(MigrationPhase::Ready);  // migrate again, or a second ready mark: nothing to do
    case MigrationPhase::Complete:
      return refused("it is complete: nothing is left to " +
                     std::string(call == MigrationCall::Abort ? "abort" : "do"));
    case MigrationPhase::Aborted:
      return refused("it was aborted: start a new migration (zd_expand_*) to go on");
  }
  return refused("unknown phase");
}

NextStep next_step(MigrationPhase phase, int64_t id, MigrationKind kind) {
  switch (phase) {
    case MigrationPhase::Expanded:
      if (kind == MigrationKind::SetNotNull)
        return {call_sql(MigrationCall::Migrate, id),
                "fills the rows holding NULL (when a fill expression was given) and validates "
                "the NOT NULL check after commit"};
      if (kind == MigrationKind::AddColumn)
        return {call_sql(MigrationCall::Migrate, id),
                "fills the new column of the existing rows (and validates its NOT NULL check) "
                "after commit"};
      return {call_sql(MigrationCall::Migrate, id),
              "fills the new column and copies its indexes and constraints after commit"};
    case MigrationPhase::Migrating:
      return {"CALL zd_deferred_wait()",
              "the backfill and the concurrent index and constraint copies run in the "
              "background; if they failed, " + call_sql(MigrationCall::Migrate, id) +
                  " resumes them"};
    case MigrationPhase::Ready:
      if (kind == MigrationKind::SetNotNull)
        return {call_sql(MigrationCall::Contract, id),
                "SET NOT NULL proved by the validated check (no scan); drops the check and "
                "the fill trigger"};
      if (kind == MigrationKind::AddColumn)
        return {call_sql(MigrationCall::Contract, id),
                "once every deployed code writes the column itself: drops the fill trigger "
                "(and makes the column NOT NULL when asked)"};
      return {call_sql(MigrationCall::Contract, id),
              "once no deployed code uses the old column: drops it and the trigger"};
    case MigrationPhase::Complete:
    case MigrationPhase::Aborted:
      return {"", "nothing: the migration is over"};
  }
  return {"", ""};
}

}  // namespace zd
