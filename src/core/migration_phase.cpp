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

bool phase_is_active(MigrationPhase phase) {
  return phase != MigrationPhase::Complete && phase != MigrationPhase::Aborted;
}

namespace {

Transition to(MigrationPhase phase) { return Transition{true, phase, ""}; }

Transition refused(const std::string &why) {
  return Transition{false, MigrationPhase::Expanded, why};
}

}  // namespace

Transition transition(MigrationPhase phase, MigrationCall call, int64_t id) {
  const std::string migrate = call_sql(MigrationCall::Migrate, id);
  const std::string contract = call_sql(MigrationCall::Contract, id);
  const std::string abort = call_sql(MigrationCall::Abort, id);
  switch (phase) {
    case MigrationPhase::Expanded:
      if (call == MigrationCall::Migrate) return to(MigrationPhase::Migrating);
      if (call == MigrationCall::Abort) return to(MigrationPhase::Aborted);
      if (call == MigrationCall::MarkReady)
        return refused("it is not migrating: " + migrate + " first");
      return refused("its new column is not filled yet: " + migrate +
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

NextStep next_step(MigrationPhase phase, int64_t id) {
  switch (phase) {
    case MigrationPhase::Expanded:
      return {call_sql(MigrationCall::Migrate, id),
              "fills the new column and copies its indexes and constraints after commit"};
    case MigrationPhase::Migrating:
      return {"CALL zd_deferred_wait()",
              "the backfill and the concurrent index and constraint copies run in the "
              "background; if they failed, " + call_sql(MigrationCall::Migrate, id) +
                  " resumes them"};
    case MigrationPhase::Ready:
      return {call_sql(MigrationCall::Contract, id),
              "once no deployed code uses the old column: drops it and the trigger"};
    case MigrationPhase::Complete:
    case MigrationPhase::Aborted:
      return {"", "nothing: the migration is over"};
  }
  return {"", ""};
}

}  // namespace zd
