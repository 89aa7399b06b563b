#include "core/migration_phase.hpp"

#include "core/pg_free.hpp"

namespace zd {

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
  for (MigrationPhase p : {MigrationPhase::Expanded, MigrationPhase::Migrating,
                           MigrationPhase::Ready, MigrationPhase::Complete,
                           MigrationPhase::Aborted})
    if (name == phase_name(p)) return p;
  return std::nullopt;
}

const char *call_name(MigrationCall call) {
  switch (call) {
    case MigrationCall::Migrate: return "zd_migrate";
    case MigrationCall::Contract: return "zd_contract";
    case MigrationCall::Abort: return "zd_abort";
  }
  return "?";
}

namespace {

std::string quoted(const std::string &name) {
  std::string q = "'";
  for (char c : name) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

Transition refused(const std::string &why) { return Transition{false, MigrationPhase::Expanded, why}; }

}  // namespace

Transition transition(MigrationPhase phase, MigrationCall call, const std::string &name) {
  const std::string n = quoted(name);
  switch (phase) {
    case MigrationPhase::Expanded:
    case MigrationPhase::Migrating:
      if (call == MigrationCall::Migrate) return Transition{true, MigrationPhase::Migrating, ""};
      if (call == MigrationCall::Abort) return Transition{true, MigrationPhase::Aborted, ""};
      return refused("its new side is not filled yet: CALL zd_migrate(" + n + ") first");
    case MigrationPhase::Ready:
      if (call == MigrationCall::Contract) return Transition{true, MigrationPhase::Complete, ""};
      if (call == MigrationCall::Abort) return Transition{true, MigrationPhase::Aborted, ""};
      return Transition{true, MigrationPhase::Ready, ""};  // migrate again: nothing to do
    case MigrationPhase::Complete:
      return refused("it is complete: nothing is left to " +
                     std::string(call == MigrationCall::Abort ? "abort" : "do"));
    case MigrationPhase::Aborted:
      return refused("it was aborted: start it again (a new migration) to go on");
  }
  return refused("unknown phase");
}

}  // namespace zd
