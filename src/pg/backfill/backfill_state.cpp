// zd_backfill's persisted progress: one row of zd_backfill_state per (role, name), written in
// the transaction of each batch so it always matches what is committed.  Names are per role:
// a role never reads, replaces, deletes or waits for another role's backfill.  The caller cannot
// write that table; zd_backfill writes it as the table's owner, and only that, through
// run_pinned_sql (search_path pinned, operators qualified: see pinned_sql.hpp).  One run per
// (role, name) at a time, enforced by a session-level lock that a crash or termination
// releases.
#include "pg/backfill/backfill.hpp"

#include "pg/pinned_sql.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/syscache.h"
}

namespace zd::pg::backfill {
namespace {

// The lock of a running backfill: an advisory lock tag that no SQL function can take
// (pg_advisory_lock's tags have 1 or 2 in the last field), with the role in its own field, so
// that no role can hold another role's name, even through a hash collision.  The progress view
// matches pg_locks.classid (the role) and objsubid (this marker): keep them in step.
const uint16 kLockMarker = 0x7a64;  // 'zd'

void set_name_locktag(LOCKTAG *tag, Oid role, const char *name) {
  uint32 key = DatumGetUInt32(hash_any((const unsigned char *) name, (int) strlen(name)));
  SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, role, key, kLockMarker);
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

// Runs one statement on the state table as its owner (the caller has no rights on it): "%s"
// in the format is the table's qualified name.
int run_on_state_table(Oid schema, const char *format, int nargs, Oid *types, Datum *values,
                       const char *nulls, bool read_only) {
  const StateTable t = state_table(schema);
  return run_pinned_sql(t.owner, psprintf(format, t.name), nargs, types, values, nulls,
                        read_only);
}

Datum text_datum(const char *s) { return CStringGetTextDatum(s); }

// Every statement below starts with the row's key: $1 the role, $2 the name.
const int kKeyArgs = 2;
const char *const kKeyMatches =
    "role OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2";
void key_values(Oid role, const char *name, Oid *types, Datum *values) {
  types[0] = OIDOID;
  values[0] = ObjectIdGetDatum(role);
  types[1] = TEXTOID;
  values[1] = text_datum(name);
}

// The position columns, as $3.. of the statements below.
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
    "pass = $3, next_block = $4, end_block = $5, batch_blocks = $6, pass_rows = $7, "
    "rows_done = $8, batches = $9, retries = $10, run_rows = $11, run_blocks = $12, pid = $13, "
    "updated_at = pg_catalog.clock_timestamp()";

int64 column_int8(int col, bool *isnull) {
  return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull));
}

}  // namespace

void lock_name(const Args *args) {
  LOCKTAG tag;
  set_name_locktag(&tag, args->role, args->name);
  if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
    ereport(ERROR,
            (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
             errmsg("zd_backfill: the backfill \"%s\" is already running in another session",
                    args->name),
             errhint("SELECT * FROM zd_backfill_progress WHERE name = %s shows which session; "
                     "wait for it, or cancel it (SELECT zd_backfill_cancel(%s)) and call again.",
                     quote_literal_cstr(args->name), quote_literal_cstr(args->name))));
}

void release_name_lock(const Args *args) {
  LOCKTAG tag;
  set_name_locktag(&tag, args->role, args->name);
  (void) LockRelease(&tag, ExclusiveLock, true);
}

bool load_state(const Args *args, Position *pos) {
  Oid types[kKeyArgs];
  Datum values[kKeyArgs];
  key_values(args->role, args->name, types, values);
  run_on_state_table(args->schema,
                     psprintf("SELECT relid, set_clause, where_clause, state, pass, next_block, "
                              "end_block, batch_blocks, pass_rows, rows_done, batches, retries "
                              "FROM %%s WHERE %s",
                              kKeyMatches),
                     kKeyArgs, types, values, nullptr, true);
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
    // Another table or other clauses under this name, of this same role (it is not running:
    // the name's lock is ours).  Nothing is lost by starting afresh: where_clause finds every
    // row still to do; only the earlier position goes.
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": replacing the earlier backfill of that name "
                            "(%s: SET %s WHERE %s)",
                            args->name, state, set_clause, where_clause)));
    run_on_state_table(args->schema, psprintf("DELETE FROM %%s WHERE %s", kKeyMatches),
                       kKeyArgs, types, values, nullptr, false);
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
  Oid types[kKeyArgs + kPositionArgs + 4];
  Datum values[kKeyArgs + kPositionArgs + 4];
  key_values(args->role, args->name, types, values);
  position_values(pos, types + kKeyArgs, values + kKeyArgs);
  if (exists) {
    run_on_state_table(
        args->schema,
        psprintf("UPDATE %%s SET %s, started_at = CASE WHEN state OPERATOR(pg_catalog.=) 'done' "
                 "THEN pg_catalog.clock_timestamp() ELSE started_at END, state = 'running', "
                 "run_started_at = pg_catalog.clock_timestamp(), finished_at = NULL, "
                 "last_error = NULL WHERE %s",
                 kSetPosition, kKeyMatches),
        kKeyArgs + kPositionArgs, types, values, nullptr, false);
    return;
  }
  const int n = kKeyArgs + kPositionArgs;
  types[n] = OIDOID;      values[n] = ObjectIdGetDatum(args->relid);
  types[n + 1] = TEXTOID; values[n + 1] = text_datum(args->relation);
  types[n + 2] = TEXTOID; values[n + 2] = text_datum(args->set_clause);
  types[n + 3] = TEXTOID; values[n + 3] = text_datum(args->where_clause);
  run_on_state_table(args->schema,
                     "INSERT INTO %s (role, name, pass, next_block, end_block, batch_blocks, "
                     "pass_rows, rows_done, batches, retries, run_rows, run_blocks, pid, relid, "
                     "relation, set_clause, where_clause, state) VALUES ($1, $2, $3, $4, $5, "
                     "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'running')",
                     n + 4, types, values, nullptr, false);
}

void save_position(const Args *args, const Position *pos, const char *state) {
  Oid types[kKeyArgs + kPositionArgs + 1];
  Datum values[kKeyArgs + kPositionArgs + 1];
  key_values(args->role, args->name, types, values);
  position_values(pos, types + kKeyArgs, values + kKeyArgs);
  types[kKeyArgs + kPositionArgs] = TEXTOID;
  values[kKeyArgs + kPositionArgs] = text_datum(state);
  run_on_state_table(args->schema,
                     psprintf("UPDATE %%s SET %s, state = $14 WHERE %s", kSetPosition,
                              kKeyMatches),
                     kKeyArgs + kPositionArgs + 1, types, values, nullptr, false);
}

void save_failure(const Args *args, const Position *pos, const char *error) {
  save_position(args, pos, "failed");
  save_error(args->schema, args->role, args->name, error);
}

void save_error(Oid schema, Oid role, const char *name, const char *error) {
  Oid types[kKeyArgs + 1];
  Datum values[kKeyArgs + 1];
  key_values(role, name, types, values);
  types[kKeyArgs] = TEXTOID;
  values[kKeyArgs] = text_datum(error);
  run_on_state_table(schema,
                     psprintf("UPDATE %%s SET state = 'failed', last_error = $3, updated_at = "
                              "pg_catalog.clock_timestamp() WHERE %s AND pid "
                              "OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()",
                              kKeyMatches),
                     kKeyArgs + 1, types, values, nullptr, false);
}

void save_done(const Args *args, const Position *pos, const char *warning) {
  save_position(args, pos, "done");
  Oid types[kKeyArgs + 1];
  Datum values[kKeyArgs + 1];
  key_values(args->role, args->name, types, values);
  types[kKeyArgs] = TEXTOID;
  values[kKeyArgs] = warning ? text_datum(warning) : (Datum) 0;
  const char nulls[kKeyArgs + 1] = {' ', ' ', warning ? ' ' : 'n'};
  run_on_state_table(args->schema,
                     psprintf("UPDATE %%s SET finished_at = pg_catalog.clock_timestamp(), "
                              "last_error = $3 WHERE %s",
                              kKeyMatches),
                     kKeyArgs + 1, types, values, nulls, false);
}

void standby_positions(const Args *args, int64 *reported_lag_ms, XLogRecPtr *oldest_replay) {
  // As the state table's owner: pg_stat_replication shows its positions and lags only to
  // privileged roles.
  run_pinned_sql(state_table(args->schema).owner,
                 "SELECT COALESCE(pg_catalog.max(pg_catalog.date_part('epoch', "
                 "replay_lag) OPERATOR(pg_catalog.*) 1000) FILTER (WHERE replay_lsn "
                 "OPERATOR(pg_catalog.<) pg_catalog.pg_current_wal_lsn()), 0)::pg_catalog.int8, "
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
