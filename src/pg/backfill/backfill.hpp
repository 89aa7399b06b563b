// zd_backfill: what its parts share.  The procedure (backfill.cpp) reads and checks its
// arguments (backfill_args.cpp), builds the one UPDATE it runs (backfill_statement.cpp), keeps
// its progress in zd_backfill_state (backfill_state.cpp) and paces itself (backfill_wait.cpp).
// Everything here is plain data in PostgreSQL memory: these frames may longjmp.
#pragma once

#include "pg/pg_headers.hpp"
#include "pg/sleep.hpp"

extern "C" {
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
}

namespace zd::pg::backfill {

// The procedure's arguments, checked.  Durations in milliseconds; -1: not set.
struct Args {
  Oid schema;                // the extension's schema (zd_backfill_state is there)
  Oid role;                  // whose backfill: the current user (names are per role)
  Oid relid;
  const char *relation;      // schema-qualified, quoted
  const char *set_clause;
  const char *where_clause;
  const char *name;
  int batch_rows;
  int target_ms;             // -1: fixed batch size
  int pause_ms;
  int lock_timeout_ms;
  int max_replica_lag_ms;    // -1: do not wait for standbys
  int max_retries;
  int progress_interval_ms;
};

// Reads and checks every argument of zd_backfill or zd_backfill_start (the same list); raises
// a clear error (and changes nothing) on bad input.
const Args *read_args(FunctionCallInfo fcinfo);

// The CALL of zd_backfill with these arguments, every one spelled out (the background worker
// and a deferred backfill run it).
const char *call_text(const Args *a);

// The statements a backfill runs, prepared once and kept across commits.
//   update: the UPDATE of a pass's batch, with the batch's TID range as $1 and $2:
//     UPDATE ONLY <relation> SET <set_clause>
//     WHERE ctid >= $1 AND ctid < $2 AND (<where_clause>)
//   update_row: the same for one row version, found by the read below, returning whether the
//   new version still matches:
//     ... WHERE ctid = $1 AND xmin = $2 AND (<where_clause>) RETURNING (<where_clause>)
//   find: the read of rows still to do, at most $1 of them:
//     SELECT ctid, xmin FROM ONLY <relation> WHERE (<where_clause>) LIMIT $1
// Refuses clauses that are not one SET list / one expression (a second statement, a FROM or
// RETURNING smuggled in, a where_clause that escapes its parentheses), then prepares them:
// unknown columns and type errors are reported before anything runs.  Checks the caller's
// privileges for them as the executor will.
struct Statements {
  SPIPlanPtr update;
  SPIPlanPtr update_row;
  SPIPlanPtr find;
};
Statements prepare_statements(const Args *args);
void free_statements(Statements s);

// Runs the update on the rows matching where_clause in blocks [first, end).  Returns the rows
// updated.
uint64 run_update(SPIPlanPtr update, BlockNumber first, BlockNumber end);

// A row version: where it is and the transaction that wrote it.  A row the application updates
// or deletes meanwhile, or a new row in its place, no longer has both.
struct RowVersion {
  ItemPointerData tid;
  TransactionId xmin;
};

// The rows matching where_clause now, under one snapshot: at most `limit` of them, in TID order.
struct MatchingRows {
  RowVersion *rows;
  int64 count;
};
MatchingRows find_matching(SPIPlanPtr find, int64 limit);

// Runs update_row on one row version: kDone; kGone when that version is gone (the application
// updated or deleted the row) or no longer matches where_clause; kStillMatches when set_clause
// left it matching where_clause.
enum class RowUpdate { kDone, kGone, kStillMatches };
RowUpdate run_update_row(SPIPlanPtr update_row, const RowVersion *row);

// Where a backfill is, as persisted in zd_backfill_state.
struct Position {
  int pass;
  int64 next_block;
  int64 end_block;
  int64 batch_blocks;
  int64 pass_rows;
  int64 rows_done;
  int64 batches;
  int64 retries;
  int64 run_rows;
  int64 run_blocks;
};

// Session-level lock on the role's name: one run per (role, name) at a time.  Raises if
// another session holds it.  Released by release_name_lock or when the session ends (crash
// included).
void lock_name(const Args *args);
void release_name_lock(const Args *args);

// Every function below that touches zd_backfill_state takes the Args for its schema.

// Loads the state row of args->name into *pos and returns true, or returns false when there is
// none.  A row for another table or other clauses is replaced, with a NOTICE.
bool load_state(const Args *args, Position *pos);
// Inserts the state row of a new backfill, or resets a finished one to start over.
void start_state(const Args *args, const Position *pos, bool exists);
// Records the position after a batch (in the batch's transaction), or a new state.
void save_position(const Args *args, const Position *pos, const char *state);
void save_failure(const Args *args, const Position *pos, const char *error);
// Marks the role's backfill `name` failed with `error`, its position as it is, if this
// process is the one that ran it.
void save_error(Oid schema, Oid role, const char *name, const char *error);
// `warning`: why it stopped with rows still matching (kept in last_error), or nullptr.
void save_done(const Args *args, const Position *pos, const char *warning = nullptr);

// Called once a backfill has begun (its name taken, its statements prepared, its state row
// committed), when set: the background worker tells its starter.
extern void (*backfill_begun_hook)();

// What the streaming standbys report: the largest replay lag among those that have not
// replayed all WAL (ms, 0 if none), and the oldest replay position (invalid if none streams).
void standby_positions(const Args *args, int64 *reported_lag_ms, XLogRecPtr *oldest_replay);

// The batches committed by this run whose WAL a standby may not have replayed yet: the end of
// each commit record and when it was written, oldest first.
struct UnreplayedWrites {
  static const int kCapacity = 64;
  XLogRecPtr lsn[kCapacity];
  TimestampTz at[kCapacity];
  int first;
  int count;
};
void note_write(UnreplayedWrites *w, XLogRecPtr lsn, TimestampTz at);
// How far the standbys are behind, in ms: the larger of the lag they report and the age of our
// oldest batch that one of them has not replayed (a standby whose replay stopped reports no new
// lag at all).  0 when none is behind; a standby that is not connected is not counted.
int64 replica_lag_ms(const Args *args, UnreplayedWrites *w);

}  // namespace zd::pg::backfill
