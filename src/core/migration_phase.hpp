// Expand/contract migrations: the phases a migration goes through and the calls that move it,
// as a pure function (unit-tested): which call is legal in which phase, and which call is legal
// instead when one is not.
//
//   expanded --zd_migrate--> migrating --(its queued work done)--> ready --zd_contract--> complete
//       \______________________\______________________________________\--zd_abort--> aborted
//
// The expand call (zd_expand_*) creates a migration in `expanded`, in the caller's transaction.
// zd_migrate queues the long work (the backfill, the CONCURRENTLY index copies, the VALIDATEs)
// for after its transaction commits; the last queued step moves it to `ready` (MarkReady).  A
// migrate whose work was interrupted or failed leaves it `migrating`: zd_migrate again resumes
// (every queued step is idempotent).  Aborting is possible until contract; contract only from
// `ready`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace zd {

enum class MigrationPhase { Expanded, Migrating, Ready, Complete, Aborted };
enum class MigrationCall { Migrate, MarkReady, Contract, Abort };

const char *phase_name(MigrationPhase phase);
std::optional<MigrationPhase> phase_from_name(const std::string &name);
const char *call_name(MigrationCall call);

// The SQL that makes `call` for migration `id`, as a user pastes it: SELECT zd_migrate(3).
std::string call_sql(MigrationCall call, int64_t id);

// Whether a migration in `phase` still owns its columns and trigger (not complete nor aborted).
bool phase_is_active(MigrationPhase phase);

struct Transition {
  bool legal = false;
  MigrationPhase to = MigrationPhase::Expanded;  // when legal: the phase it moves to
  std::string why;                               // when not: why, and the call legal now
};

// What `call` does to migration `id` in `phase`.
Transition transition(MigrationPhase phase, MigrationCall call, int64_t id);

// What comes next for a migration in `phase`, as the SQL call to make ("" when nothing does),
// and what the user waits for in the meantime.
struct NextStep {
  std::string sql;   // the call that moves it on
  std::string note;  // what it waits for, or what the call does
};
NextStep next_step(MigrationPhase phase, int64_t id);

}  // namespace zd
