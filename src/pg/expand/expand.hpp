// Expand/contract migrations, the PostgreSQL side: the state rows (migration_state.cpp), the
// expressions each way (expression.cpp), the steps each call runs and zd_plan shows
// (steps.cpp), the SQL calls (expand_calls.cpp, lifecycle_calls.cpp), the sync trigger
// (sync_trigger.cpp) and the columns each INSERT names (insert_columns.cpp).  The kinds that
// retire no column (set not null, add column) have their own calls, steps and fill trigger
// (kind_calls.cpp, kind_steps.cpp, fill_trigger.cpp).  The legal phase
// transitions and the side a write is for are decided in the pure core
// (core/migration_phase.hpp, core/sync_side.hpp).  Plain data in palloc memory: these frames
// may longjmp.
#pragma once

#include "core/lock.hpp"
#include "core/migration_phase.hpp"
#include "pg/pg_headers.hpp"

extern "C" {
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/relcache.h"
#include "tcop/utility.h"
}

namespace zd {
struct Operation;
struct StatementFacts;
}

namespace zd::pg::expand {

// A row of zd_migration.
struct Migration {
  int64 id;
  Oid relid;
  const char *relation;    // qualified, quoted
  const char *kind;        // zd::kind_name: "rename column", "change type", "set not null",
                           // "add column"
  const char *old_column;  // unquoted names
  const char *new_column;
  const char *new_type;
  const char *up_sql;
  const char *down_sql;
  const char *version;     // "" when none
  zd::MigrationPhase phase;
  Oid started_by;
  const char *trigger_name;
  const char *backfill_name;
  bool not_null;  // set not null: always; add column: NOT NULL at contract when asked
};

bool is_rename(const Migration *m);
zd::MigrationKind kind_of(const Migration *m);
// Rename and change of type: an old and a new column, the sync trigger, the old column
// dropped at contract.  Otherwise (set not null, add column): one column (old_column =
// new_column), the fill trigger (only with an expression), nothing dropped at contract.
bool retires_old_column(const Migration *m);

// --- the expand calls' shared checks (expand_calls.cpp) ---

// The migration being started on the table of argument 0, column of argument 1: checks that
// the caller owns a plain table (not partitioned, no inheritance), refusing with a clear error.
Migration *new_migration(FunctionCallInfo fcinfo, const char *kind);
// The old column: an ordinary column of the table (not a system, identity or generated one).
AttrNumber check_old_column(Relation rel, const Migration *m);
void check_new_name_free(const Migration *m);

// --- state (zd_migration, zd_migration_object), written as its owner, search_path pinned ---

// Inserts the migration (its id assigned, m->id set) and the objects it owns; a column another
// active migration owns is refused (55006, naming it).
void insert_migration(Migration *m);
// Records the migration's up_sql and down_sql (known once its new column exists).
void save_expressions(const Migration *m);
void own_object(const Migration *m, const char *kind, const char *name, const char *source);
// Loads migration `id`; raises 42704 when there is none (or the caller may not see it).
Migration *load_migration(int64 id);
// Records the phase the call moved it to (and its timestamp); a finished migration lets go of
// its objects.
void save_phase(const Migration *m, zd::MigrationPhase phase);
// The objects of `kind` it owns: a List of char *[2] {name, source}.
List *owned_objects(const Migration *m, const char *kind);
// The active migration owning column `column` of `relid`, or 0; `kind` (when not nullptr): its
// kind ("rename column", "change type", "set not null", "add column").
int64 migration_owning_column(Oid relid, const char *column, zd::MigrationPhase *phase,
                              bool *is_old_column, const char **kind = nullptr);

// Takes the migration's lock for this transaction, without waiting: another session moving it
// gets 55P03 naming this one (its pid, application_name and query).
void lock_migration(int64 id);

// Refuses `call` in the migration's phase (55000, with the call that is legal now); returns
// the phase it moves to.
zd::MigrationPhase check_transition(const Migration *m, zd::MigrationCall call);

// --- expressions ---

// Parses `text` (one expression, as the caller wrote it, in the caller's search_path) over the
// row of `rel`; a bare `alias` means column `alias_attnum` (the down expression's new value).
// The result has the type of column `target`.  Raises a clear error (22023, 42xxx) on bad input.
Node *parse_row_expression(Relation rel, const char *text, const char *what, const char *alias,
                           AttrNumber alias_attnum, AttrNumber target);
// The expression as text that means the same whatever the search_path: every name outside
// pg_catalog qualified.
const char *normalized_sql(Relation rel, Node *expr);
// What the trigger runs: `normalized` parsed with search_path pinned, planned, ready to evaluate
// over the row (scan tuple), with the type of column `target`.  *untrusted: it calls code a
// superuser does not own (the table owner's functions, a domain's CHECK); such an expression is
// planned (constants folded) and evaluated as the table's owner (as_owner below), never with
// the rights of whoever writes the row.
Expr *prepare_normalized(Relation rel, const char *normalized, AttrNumber target,
                         bool *untrusted);

// prepare_normalized's result for trigger `trigger` (`slot`: which of its expressions), kept
// for the session (expression_cache.cpp) until its table, a function, operator, cast, type,
// constraint or role changes; a copy in the current memory context.
Expr *cached_expression(Relation rel, Oid trigger, int slot, const char *text, AttrNumber target,
                        bool *untrusted);

// search_path = pg_catalog, pg_temp until restore_search_path(level): the text zero_downtime
// writes (steps, expressions) is made and run under it, so that every name outside pg_catalog
// is qualified and no schema on someone's search_path can shadow what it means.  An error
// restores it too (with the transaction).
int pin_search_path();
void restore_search_path(int level);

// Runs as `owner` in a security-restricted operation, search_path pinned (what PostgreSQL does
// for an index expression): enter returns what leave restores.
struct AsOwner {
  Oid user;
  int context;
  int guc_level;
};
AsOwner enter_as_owner(Oid owner);
void leave_as_owner(const AsOwner &saved);

// --- steps: the SQL each call runs, shared by the calls and zd_plan ---

enum class StepPhase { Expand, Migrate, Contract, Abort };

struct Step {
  StepPhase phase;
  const char *call;  // the zd_* call that runs it
  const char *sql;
  zd::Lock lock;         // on the table
  const char *duration;  // how long it holds it
  const char *index;     // an index copy's build: the copy (qualified), else nullptr
};

// Steps of `m` for `phase`, from the catalog now (indexes and constraints on the old column;
// their copies have names made from theirs and the id).  For Expand, `m` is the migration
// being created (its id and names assigned).  Refuses (0A000) what this version cannot carry
// over yet: a key or unique constraint, a foreign key or a generated column on the old column.
List *steps_for(const Migration *m, StepPhase phase);
const char *step_phase_name(StepPhase phase);

// <source>_zd<id>, cut to fit a name: the names of copies and helpers a migration makes.
const char *copy_name(const char *source, int64 id);
Step *make_step(StepPhase phase, const char *sql, zd::Lock lock, const char *duration);
extern const char *const kBriefLock;  // how long an ACCESS EXCLUSIVE of a step holds it

// The steps of a migration that makes a column NOT NULL or adds one (kind_steps.cpp), made
// under the pinned search_path; and the name of its helper CHECK (col IS NOT NULL).
List *fill_kind_steps(const Migration *m, StepPhase phase);
const char *not_null_check_name(const Migration *m);

// Runs one DDL step of `m` in the current transaction, below the guard, its lock capped (a
// lock not granted names the sessions that hold the table).
void run_step(const Migration *m, const Step *step);

// --- the guard (guard_facts.cpp, lifecycle_calls.cpp) ---

// For a DROP, RENAME or ALTER TYPE of a column of relid: the active migration owning it.
void fill_migration_facts(Oid relid, zd::Operation *op);
// DROP COLUMN of the old column of migration `id`, which may contract: runs its contract, the
// statement itself (run_drop(arg)) in the place of the contract's DROP COLUMN.
void contract_by_drop(int64 id, void (*run_drop)(void *), void *arg);

// The extension's schema, quoted.
const char *schema_name();

// The columns the INSERT being executed names, for the trigger (insert_columns.cpp): the
// statement's column list when the executor runs an INSERT into relid, nullptr when unknown
// (COPY, or no INSERT).  Columns as attnums offset by FirstLowInvalidHeapAttributeNumber.
const Bitmapset *inserted_columns(Oid relid);
void install_insert_columns_hook();
// COPY: the rest of the ProcessUtility chain, with COPY FROM's columns recorded for the trigger
// and COPY's use of a watched column noted (called by the hook, utility_hook.cpp).
void run_copy(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
              ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
              DestReceiver *dest, QueryCompletion *qc);

// --- evidence of use for contract and DROP (recorded: usage.cpp; judged: usage_evidence.cpp) ---

// The executor hook, the commit callback and (preloaded) the shared memory.
void install_usage_hooks();
// Whether this database has columns of active migrations to watch (for this backend, a client
// backend): one read of a shared counter when none, a read of pg_trigger when it moved.
bool watching();
// Whether this database may have a sync trigger (an active migration), for any backend: one
// read of the shared counter while it has not moved; true when the library is not preloaded.
bool sync_triggers_may_exist();
// COPY of relid naming attlist (NIL: every column), either direction.
void note_copy(Oid relid, List *attlist);
// When this transaction commits: m's old column is watched from then / is no longer watched.
void usage_watch_at_commit(const Migration *m);
void usage_forget_at_commit(const Migration *m);
// Refuses (55006) the contract of m while its old column was used within
// zero_downtime.contract_quiet_period, naming the applications, or has not been watched for
// that long; `force` (allowed to a role that may SET that setting) skips the check.
void check_contract_evidence(const Migration *m, bool force);
// DROP TABLE (attnum 0) or DROP COLUMN of relid: what the record of its use shows, into op's
// usage_* facts (for drop-table and drop-column); starts recording it when nothing did.
void fill_usage_evidence(Oid relid, AttrNumber attnum, zd::Operation *op);

// --- an ORM's own RENAME COLUMN / ALTER COLUMN TYPE as a migration (orm_change.cpp) ---

// zero_downtime.orm_renames = migrate, and the rules let the statement's one change become a
// migration (core rules::becomes_migration): starts it, as zd_expand_rename_column or
// zd_expand_change_type would, in place of the statement (Decision::start_migration); tells its
// id and the next call in a NOTICE.
void run_as_migration(const zd::StatementFacts *facts);

}  // namespace zd::pg::expand
