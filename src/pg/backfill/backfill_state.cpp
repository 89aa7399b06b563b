// zd_backfill's persisted progress: one row of zd_backfill_state per name, written in the
// transaction of each batch so it always matches what is committed.  The caller cannot write
// that table; zd_backfill writes it as the table's owner, and only that.  One run per name at
// a time, enforced by a session-level advisory lock that a crash or termination releases.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/syscache.h"
#include "catalog/pg_class.h"
}

namespace zd::pg::backfill {
namespace {

// pg_locks.classid of zd_backfill's advisory locks: 'zd_b' (the progress view matches it).
const uint32 kAdvisoryClass = 0x7a645f62;

void set_name_locktag(LOCKTAG *tag, const char *name) {
  uint32 key = DatumGetUInt32(hash_any((const unsigned char *) name, (int) strlen(name)));
  SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, kAdvisoryClass, key, 2);
}

// The state table and its owner.
struct StateTable {
  const char *name;  // qualified, quoted
  Oid owner;
};

StateTable state_table(Oid schema) {
  Oid relid = get_relname_relid("zd_backfill_state", schema);
  if (!OidIsValid(relid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("zd_backfill: the table zd_backfill_state of the extension is missing"),
                    errhint("ALTER EXTENSION zero_downtime UPDATE, or drop and create it again.")));
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  Oid owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return {quote_qualified_identifier(get_namespace_name(schema), "zd_backfill_state"), owner};
}

// A statement on the state table: "%s" in the format is its qualified name.
const char *on_state_table(const Args *a, const char *format) {
  return psprintf(format, state_table(a->schema).name);
}

// Runs one statement as the state table's owner (the caller has no rights on the table).
// On error the transaction's abort restores the caller's identity.
int run_as_owner(const Args *a, const char *sql, int nargs, Oid *types, Datum *values,
                 const char *nulls, bool read_only) {
  StateTable t = state_table(a->schema);
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  SetUserIdAndSecContext(t.owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
  int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);
  SetUserIdAndSecContext(saved_user, saved_context);
  if (rc < 0) elog(ERROR, "zd_backfill: %s failed: %s", sql, SPI_result_code_string(rc));
  return rc;
}

Datum text_datum(const char *s) { return CStringGetTextDatum(s); }

// The position columns, as $2.. of the statements below ($1 is the name).
const int kPositionArgs = 11;
void position_values(const Position *p, Oid *types, Datum *values) {
  const int64 v[] = {p->pass, p->next_block, p->end_block, p->batch_blocks, p->pass_rows,
                     p->rows_done, p->batches, p->retries, p->run_rows, p->run_blocks};
  for (int i = 0; i < 10; i++) {
    types[i] = INT8OID;
    values[i] = Int64GetDatum(v[i]);
  }
  types[10] = INT4OID;
  values[10] = Int32GetDatum(MyProcPid);
}

const char *const kSetPosition =
    "pass = $2, next_block = $3, end_block = $4, batch_blocks = $5, pass_rows = $6, "
    "rows_done = $7, batches = $8, retries = $9, run_rows = $10, run_blocks = $11, pid = $12, "
    "updated_at = pg_catalog.clock_timestamp()";

int64 column_int8(int col, bool *isnull) {
  return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull));
}

}  // namespace

void lock_name(const char *name) {
  LOCKTAG tag;
  set_name_locktag(&tag, name);
  if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
    ereport(ERROR,
            (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
             errmsg("zd_backfill: the backfill \"%s\" is already running in another session",
                    name),
             errhint("SELECT * FROM zd_backfill_progress WHERE name = %s shows which session; "
                     "wait for it, or cancel it (pg_cancel_backend(pid)) and call again.",
                     quote_literal_cstr(name))));
}

void release_name_lock(const char *name) {
  LOCKTAG tag;
  set_name_locktag(&tag, name);
  (void) LockRelease(&tag, ExclusiveLock, true);
}

bool load_state(const Args *args, Position *pos) {
  Oid types[1] = {TEXTOID};
  Datum values[1] = {text_datum(args->name)};
  run_as_owner(args, on_state_table(args, "SELECT relid, set_clause, where_clause, state, pass, next_block, "
                              "end_block, batch_blocks, pass_rows, rows_done, batches, retries "
                              "FROM %s WHERE name = $1"),
               1, types, values, nullptr, true);
  if (SPI_processed == 0) return false;
  HeapTuple row = SPI_tuptable->vals[0];
  TupleDesc desc = SPI_tuptable->tupdesc;
  bool isnull;
  Oid relid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
  const char *set_clause = SPI_getvalue(row, desc, 2);
  const char *where_clause = SPI_getvalue(row, desc, 3);
  const char *state = SPI_getvalue(row, desc, 4);
  if (relid != args->relid || strcmp(set_clause, args->set_clause) != 0 ||
      strcmp(where_clause, args->where_clause) != 0) {
    // Another table or other clauses under this name (it is not running: the name's lock is
    // ours).  Nothing is lost by starting afresh: where_clause finds every row still to do;
    // only the earlier position goes.
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": replacing the earlier backfill of that name "
                            "(%s: SET %s WHERE %s)",
                            args->name, state, set_clause, where_clause)));
    run_as_owner(args, on_state_table(args, "DELETE FROM %s WHERE name = $1"), 1, types, values,
                 nullptr, false);
    return false;
  }
  pos->pass = (int) column_int8(5, &isnull);
  pos->next_block = column_int8(6, &isnull);
  pos->end_block = column_int8(7, &isnull);
  pos->batch_blocks = column_int8(8, &isnull);
  pos->pass_rows = column_int8(9, &isnull);
  pos->rows_done = column_int8(10, &isnull);
  pos->batches = column_int8(11, &isnull);
  pos->retries = column_int8(12, &isnull);
  pos->run_rows = 0;
  pos->run_blocks = 0;
  // A finished backfill called again starts over, counting anew: its first read finds any row
  // that matches where_clause again (one read of the table when there is none).
  if (strcmp(state, "done") == 0) *pos = Position{0, 0, 0, pos->batch_blocks, 0, 0, 0, 0, 0, 0};
  return true;
}

void start_state(const Args *args, const Position *pos, bool exists) {
  Oid types[1 + kPositionArgs + 5];
  Datum values[1 + kPositionArgs + 5];
  types[0] = TEXTOID;
  values[0] = text_datum(args->name);
  position_values(pos, types + 1, values + 1);
  if (exists) {
    run_as_owner(args, on_state_table(args, psprintf("UPDATE %%s SET %s, started_at = CASE state WHEN 'done' THEN "
                          "pg_catalog.clock_timestamp() ELSE started_at END, "
                          "state = 'running', run_started_at = "
                          "pg_catalog.clock_timestamp(), finished_at = NULL, last_error = NULL "
                          "WHERE name = $1", kSetPosition)),
                 1 + kPositionArgs, types, values, nullptr, false);
    return;
  }
  const int n = 1 + kPositionArgs;
  types[n] = OIDOID;      values[n] = ObjectIdGetDatum(args->relid);
  types[n + 1] = TEXTOID; values[n + 1] = text_datum(args->relation);
  types[n + 2] = TEXTOID; values[n + 2] = text_datum(args->set_clause);
  types[n + 3] = TEXTOID; values[n + 3] = text_datum(args->where_clause);
  types[n + 4] = NAMEOID;
  values[n + 4] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
  run_as_owner(args, on_state_table(args, "INSERT INTO %s (name, pass, next_block, end_block, batch_blocks, pass_rows, "
               "rows_done, batches, retries, run_rows, run_blocks, pid, relid, relation, "
               "set_clause, where_clause, started_by, state) VALUES ($1, $2, $3, $4, $5, $6, "
               "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'running')"),
               n + 5, types, values, nullptr, false);
}

void save_position(const Args *args, const Position *pos, const char *state) {
  Oid types[2 + kPositionArgs];
  Datum values[2 + kPositionArgs];
  types[0] = TEXTOID;
  values[0] = text_datum(args->name);
  position_values(pos, types + 1, values + 1);
  types[1 + kPositionArgs] = TEXTOID;
  values[1 + kPositionArgs] = text_datum(state);
  run_as_owner(args, on_state_table(args, psprintf("UPDATE %%s SET %s, state = $13 WHERE name = $1", kSetPosition)),
               2 + kPositionArgs, types, values, nullptr, false);
}

void save_failure(const Args *args, const Position *pos, const char *error) {
  save_position(args, pos, "failed");
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {text_datum(args->name), text_datum(error)};
  run_as_owner(args, on_state_table(args, "UPDATE %s SET last_error = $2 WHERE name = $1"), 2, types, values, nullptr, false);
}

void save_done(const Args *args, const Position *pos, const char *warning) {
  save_position(args, pos, "done");
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {text_datum(args->name), warning ? text_datum(warning) : (Datum) 0};
  const char nulls[2] = {' ', warning ? ' ' : 'n'};
  run_as_owner(args,
               on_state_table(args, "UPDATE %s SET finished_at = pg_catalog.clock_timestamp(), "
                                    "last_error = $2 WHERE name = $1"),
               2, types, values, nulls, false);
}

void standby_positions(const Args *args, int64 *reported_lag_ms, XLogRecPtr *oldest_replay) {
  // As the owner: pg_stat_replication shows its positions and lags only to privileged roles.
  run_as_owner(args,
               "SELECT coalesce(pg_catalog.max(extract(epoch FROM replay_lag) * 1000) "
               "FILTER (WHERE replay_lsn < pg_catalog.pg_current_wal_lsn()), 0)::int8, "
               "pg_catalog.min(replay_lsn) FROM pg_catalog.pg_stat_replication",
               0, nullptr, nullptr, nullptr, true);
  bool isnull;
  *reported_lag_ms = column_int8(1, &isnull);
  if (isnull) *reported_lag_ms = 0;
  Datum oldest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
  *oldest_replay = isnull ? InvalidXLogRecPtr : DatumGetLSN(oldest);
  SPI_freetuptable(SPI_tuptable);
}

}  // namespace zd::pg::backfill
