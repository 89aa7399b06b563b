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

// What a migration does.  A rename and a change of type keep an old and a new column in step
// and retire the old one at contract (evidence-gated; DROP COLUMN of it runs the contract).
// Making a column NOT NULL and adding a column filled from an expression retire nothing: their
// trigger fills one column (zd_fill_trigger), their contract makes the NOT NULL final.
enum class MigrationKind { RenameColumn, ChangeType, SetNotNull, AddColumn };

// As zd_migration.kind stores it: "rename column", "change type", "set not null", "add column".
const char *kind_name(MigrationKind kind);
std::optional<MigrationKind> kind_from_name(const std::string &name);
// The zd_expand_* function that starts a migration of `kind`.
const char *expand_call_name(MigrationKind kind);
// Whether its contract drops an old column that old code may still use (so: gated on evidence
// of use, and DROP COLUMN of that column may run it).
bool kind_retires_old_column(MigrationKind kind);

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

// What `call` does to migration `id` (of `kind`) in `phase`.  The phases and legal calls are
// the same for every kind; what a refusal says it waits for is the kind's.
Transition transition(MigrationPhase phase, MigrationCall call, int64_t id,
                      MigrationKind kind = MigrationKind::RenameColumn);

// What comes next for a migration in `phase`, as the SQL call to make ("" when nothing does),
// and what the user waits for in the meantime.
struct NextStep {
  std::string sql;   // the call that moves it on
  std::string note;  // what it waits for, or what the call does
};
NextStep next_step(MigrationPhase phase, int64_t id,
                   MigrationKind kind = MigrationKind::RenameColumn);

}  // namespace zd
