// Expand/contract migrations: the phases a migration goes through and the calls that move it,
// as a pure function (unit-tested): which call is legal in which phase, and which call is legal
// instead when one is not.
//
//   expanded --migrate--> migrating --(backfill done)--> ready --contract--> complete
//       \___________________\______________________________\--abort--> aborted
//
// `migrating` is left by the migrate call itself once its backfill is done; a migrate call
// that was interrupted (cancel, crash) leaves the migration `migrating`, and calling it again
// resumes it.  Aborting is possible until contract; contract only from `ready`.
#pragma once

#include <optional>
#include <string>

namespace zd {

enum class MigrationPhase { Expanded, Migrating, Ready, Complete, Aborted };
enum class MigrationCall { Migrate, Contract, Abort };

const char *phase_name(MigrationPhase phase);
std::optional<MigrationPhase> phase_from_name(const std::string &name);
const char *call_name(MigrationCall call);

struct Transition {
  bool legal = false;
  MigrationPhase to = MigrationPhase::Expanded;  // when legal: the phase while/after it runs
  std::string why;                               // when not: why, and the call legal now
};

// What `call` does to a migration in `phase` (`name` names it in the advice).
Transition transition(MigrationPhase phase, MigrationCall call, const std::string &name);

}  // namespace zd
