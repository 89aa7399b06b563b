#include "pg/deferral_worker.hpp"

#include "pg/boundary.hpp"
#include "pg/deferral.hpp"
#include "pg/pinned_sql.hpp"
#include "pg/stats.hpp"
#include "pg/top_level.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "datatype/timestamp.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace zd::pg {
namespace {

bool start_at_commit = false;
bool callback_registered = false;

// Lock-timeout failures are tried again later, this many times.
const int kMaxAttempts = 10;

void launch_worker(Oid database, bool wait_for_it) {
  BackgroundWorker worker;
  memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(worker.bgw_library_name, "zero_downtime", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "zd_deferral_worker_main", BGW_MAXLEN);
  snprintf(worker.bgw_name, BGW_MAXLEN, "zero_downtime deferred work (database %u)", database);
  strlcpy(worker.bgw_type, "zero_downtime deferred", BGW_MAXLEN);
  worker.bgw_main_arg = ObjectIdGetDatum(database);
  worker.bgw_notify_pid = wait_for_it ? MyProcPid : 0;
  BackgroundWorkerHandle *handle;
  if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
    // Not an error: the rows stay queued for the next commit, zd_deferred_wait() or restart.
    ereport(WARNING, (errmsg("zero_downtime: no background worker slot to run the deferred "
                             "statements now"),
                      errhint("They stay queued in zd_deferred; raise max_worker_processes, or "
                              "SELECT zd_deferred_wait() to start them.")));
    return;
  }
  if (wait_for_it) (void) WaitForBackgroundWorkerShutdown(handle);
}

void at_transaction_end(XactEvent event, void *) {
  if (event == XACT_EVENT_COMMIT && start_at_commit) {
    start_at_commit = false;
    launch_worker(MyDatabaseId, false);
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
             event == XACT_EVENT_PREPARE) {
    start_at_commit = false;  // the queued rows are gone with it (or wait for COMMIT PREPARED)
  }
}

// --- the worker ---------------------------------------------------------------------------

struct DeferredItem {
  int64 id;
  int64 batch;
  Oid role;
  int attempts;
  char *search_path;
  char *run_sql;
  List *settings;  // of char *, name=value
  char *undo_sql;  // "" = none
  char *rule;
  char *drop_invalid_index;  // "" = none
};

// One worker per database: a session lock no SQL-level advisory lock can take (its own
// objsubid), held until the worker exits.
bool lock_database_slot() {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0x7a646566, 0, 0x7a65);
  return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

void unlock_database_slot() {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0x7a646566, 0, 0x7a65);
  LockRelease(&tag, ExclusiveLock, true);
}

// Runs `sql` (pinned) on the table in a transaction of its own; returns the first row's
// values copied into `context`, or false when there was none.
bool run_on_table(const char *format, int nargs, Oid *types, Datum *values, MemoryContext context,
                  DeferredItem *item) {
  bool found = false;
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  Oid owner;
  const char *table = deferred_table(&owner);
  if (table != nullptr && SPI_connect() == SPI_OK_CONNECT) {
    const int rc = run_pinned_sql(InvalidOid, psprintf(format, table), nargs, types, values,
                                  nullptr, false);
    if (item != nullptr && rc == SPI_OK_UPDATE_RETURNING && SPI_processed == 1) {
      HeapTuple row = SPI_tuptable->vals[0];
      TupleDesc desc = SPI_tuptable->tupdesc;
      bool isnull;
      item->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
      item->batch = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
      item->role = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
      item->attempts = DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull));
      item->search_path = MemoryContextStrdup(context, SPI_getvalue(row, desc, 5));
      item->run_sql = MemoryContextStrdup(context, SPI_getvalue(row, desc, 6));
      item->undo_sql = MemoryContextStrdup(context, SPI_getvalue(row, desc, 8));
      item->rule = MemoryContextStrdup(context, SPI_getvalue(row, desc, 9));
      item->drop_invalid_index = MemoryContextStrdup(context, SPI_getvalue(row, desc, 10));
      item->settings = NIL;
      Datum settings = SPI_getbinval(row, desc, 7, &isnull);
      if (!isnull) {
        Datum *elems;
        int n;
        deconstruct_array(DatumGetArrayTypeP(settings), TEXTOID, -1, false, TYPALIGN_INT, &elems,
                          nullptr, &n);
        MemoryContext old = MemoryContextSwitchTo(context);
        for (int i = 0; i < n; i++)
          item->settings = lappend(item->settings, TextDatumGetCString(elems[i]));
        MemoryContextSwitchTo(old);
      }
      found = true;
    }
    SPI_finish();
  }
  PopActiveSnapshot();
  CommitTransactionCommand();
  return found;
}

// The first row to run: pending, or running (left by a worker that died), in queue order.
bool claim_next(DeferredItem *item, MemoryContext context) {
  return run_on_table(
      "UPDATE %1$s SET state = 'running', attempts = attempts OPERATOR(pg_catalog.+) 1, "
      "started_at = pg_catalog.now(), error = NULL, pid = pg_catalog.pg_backend_pid() "
      "WHERE id OPERATOR(pg_catalog.=) (SELECT id FROM %1$s "
      "  WHERE state OPERATOR(pg_catalog.=) ANY ('{pending,running}'::pg_catalog.text[]) "
      "  ORDER BY id LIMIT 1) "
"RETURNING id, batch, role, attempts, search_path, run_sql, settings, undo_sql, rule, "
      "drop_invalid_index",
      0, nullptr, nullptr, context, item);
}

void finish(const DeferredItem &item, const char *state, const char *error) {
  Oid types[3] = {INT8OID, TEXTOID, TEXTOID};
  Datum values[3] = {Int64GetDatum(item.id), CStringGetTextDatum(state),
                     error ? CStringGetTextDatum(error) : (Datum) 0};
  const char nulls[4] = {' ', ' ', error ? ' ' : 'n', '\0'};
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  Oid owner;
  const char *table = deferred_table(&owner);
  if (table != nullptr && SPI_connect() == SPI_OK_CONNECT) {
    const bool over = strcmp(state, "pending") != 0;
    run_pinned_sql(InvalidOid,
                   // (A row skipped while it ran, its migration aborted, stays skipped.)
                   psprintf("UPDATE %s SET state = $2, error = $3, finished_at = %s "
                            "WHERE id OPERATOR(pg_catalog.=) $1 "
                            "AND state OPERATOR(pg_catalog.<>) 'skipped'",
                            table, over ? "pg_catalog.now()" : "NULL"),
                   3, types, values, nulls, false);
    // A failed step: the later steps of its statement do not run (they depend on it).
    if (strcmp(state, "failed") == 0)
      run_pinned_sql(InvalidOid,
                     psprintf("UPDATE %1$s SET state = 'skipped', finished_at = pg_catalog.now(), "
                              "error = 'an earlier step of its statement failed' "
                              "WHERE batch OPERATOR(pg_catalog.=) (SELECT batch FROM %1$s "
                              "WHERE id OPERATOR(pg_catalog.=) $1) "
                              "AND state OPERATOR(pg_catalog.=) 'pending'",
                              table),
                     1, types, values, nullptr, false);
    SPI_finish();
  }
  PopActiveSnapshot();
  CommitTransactionCommand();
}

// A migration run that commits between its migrations (Prisma Migrate: each file; node-pg-migrate
// around a noTransaction() migration) holds its advisory lock (72707369; 7241865325823964) from
// its start to its end.  A deferred statement run meanwhile contends with the run's next
// migration on the same table: CREATE INDEX CONCURRENTLY waits for that migration's transaction
// (its snapshot is older) while the migration waits for the build's lock; PostgreSQL then
// cancels one of them (a deadlock), or, when the migration's capped lock waits and its retries
// interleave so that no deadlock is seen, the migration fails after its retries.  So the worker
// waits for the run to end (at most kRunWaitMs, then it goes on).
const long kRunWaitMs = 10 * 60 * 1000L;

bool migration_run_in_progress() {
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  bool held = false;
  if (SPI_connect() == SPI_OK_CONNECT) {
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(MyDatabaseId)};
    held = run_pinned_sql(
               InvalidOid,
               "SELECT 1 FROM pg_catalog.pg_locks WHERE locktype OPERATOR(pg_catalog.=) "
               "'advisory' AND database OPERATOR(pg_catalog.=) $1 AND granted "
               "AND objsubid OPERATOR(pg_catalog.=) 1 AND ("
               "(classid OPERATOR(pg_catalog.=) '0'::pg_catalog.oid "
               " AND objid OPERATOR(pg_catalog.=) '72707369'::pg_catalog.oid) OR "
               "(classid OPERATOR(pg_catalog.=) '1686128'::pg_catalog.oid "
               " AND objid OPERATOR(pg_catalog.=) '708954076'::pg_catalog.oid))",
               1, types, values, nullptr, true, 1) == SPI_OK_SELECT &&
           SPI_processed > 0;
    SPI_finish();
  }
  PopActiveSnapshot();
  CommitTransactionCommand();
  return held;
}

void wait_for_migration_run() {
  const TimestampTz start = GetCurrentTimestamp();
  while (migration_run_in_progress() &&
         !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), (int) kRunWaitMs)) {
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 250L,
                     PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

bool role_exists(Oid role) {
  StartTransactionCommand();
  const bool exists = SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role));
  CommitTransactionCommand();
  return exists;
}

// Runs one row as its role, with its search_path, as a client's top-level statement.
void run_item(const DeferredItem &item, MemoryContext context) {
  if (!role_exists(item.role)) {
    finish(item, "failed", "the role that queued it no longer exists");
    return;
  }
  Oid worker_user;
  int worker_context;
  GetUserIdAndSecContext(&worker_user, &worker_context);
  const char *error = nullptr;
  const char *state = "done";
  PG_TRY();
  {
    ListCell *lc;
    foreach (lc, item.settings) {  // the recording session's (as it is a superuser: SUSET)
      char *setting = pstrdup((const char *) lfirst(lc));
      char *equals = strchr(setting, '=');
      if (equals == nullptr) continue;
      *equals = '\0';
      SetConfigOption(setting, equals + 1, PGC_SUSET, PGC_S_SESSION);
    }
    SetUserIdAndSecContext(item.role, worker_context);
    SetConfigOption("search_path", item.search_path, PGC_USERSET, PGC_S_SESSION);
    // An INVALID index an interrupted build of this item left: dropped, then built again (the
    // build's IF NOT EXISTS would keep it).  One worker per database runs the queue in order,
    // so no build of it is in progress now.
    if (item.drop_invalid_index[0] != '\0' && is_invalid_index(item.drop_invalid_index)) {
      MemoryContextSwitchTo(context);
      run_top_level_statement(
          psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", item.drop_invalid_index));
    }
    MemoryContextSwitchTo(context);
    run_top_level_statement(item.run_sql);
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    ErrorData *e = CopyErrorData();
    EmitErrorReport();
    FlushErrorState();
    AbortCurrentTransaction();
    // (Its hint says how to finish what is left, unless the undo below removes it.)
    const bool undone = item.undo_sql != nullptr && item.undo_sql[0] != '\0';
    error = psprintf("%s%s%s%s%s", e->message, e->detail ? "\n" : "", e->detail ? e->detail : "",
                     e->hint && !undone ? "\n" : "", e->hint && !undone ? e->hint : "");
    // A lock it did not get (after the guard's own retries), or a deadlock with another
    // session's statements, is tried again later (the safe form replaces what this run left).
    state = (e->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
             e->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED) &&
                    item.attempts < kMaxAttempts
                ? "pending"
                : "failed";
  }
  PG_END_TRY();
  // Failed for good: revert what ran in the migration, or what the deferral built, where
  // leaving it would hurt.  Each undo statement on its own: one failing does not keep the
  // next from running.
  if (strcmp(state, "failed") == 0 && item.undo_sql != nullptr && item.undo_sql[0] != '\0') {
    ListCell *lc;
    foreach (lc, statement_texts(item.undo_sql)) {
      const char *undo = (const char *) lfirst(lc);
      PG_TRY();
      {
        run_top_level_statement(undo);
        error = psprintf("%s\nzero_downtime then ran: %s;", error, undo);
      }
      PG_CATCH();
      {
        MemoryContextSwitchTo(context);
        ErrorData *e = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
        error = psprintf("%s\nzero_downtime could not run %s: %s", error, undo, e->message);
      }
      PG_END_TRY();
    }
    error = psprintf("%s\nOnce the cause is fixed, run the migration's statement again.", error);
  }
  SetUserIdAndSecContext(worker_user, worker_context);
  MemoryContextSwitchTo(context);
  finish(item, state, error);
  if (strcmp(state, "failed") == 0) stats_count(item.rule, kStatDeferredFailed);
  if (strcmp(state, "pending") == 0) {
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                     Min(1000L * 10 * item.attempts, 5 * 60 * 1000L), PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

// A failed item zd_deferred_wait() reports (texts in the caller's memory); id nullptr: none.
struct FailedItem {
  const char *id = nullptr;
  const char *run_sql = nullptr;
  const char *statement = nullptr;
  const char *error = nullptr;
  const char *more = "";  // "\nAlso failed: ..." when there are several
};

// Marks as reported the failed items `caller` may see that no zd_deferred_wait() reported yet
// (committed with the caller's next SPI_commit); returns the first of them.
FailedItem claim_unreported_failure(const char *table, Oid owner, Oid caller,
                                    MemoryContext outer) {
  FailedItem item;
  Oid types[1] = {OIDOID};
  Datum values[1] = {ObjectIdGetDatum(caller)};
  const char *sql = psprintf(
      "WITH claimed AS (UPDATE %s SET reported_at = pg_catalog.now() "
      "  WHERE state OPERATOR(pg_catalog.=) 'failed' AND reported_at IS NULL "
      "  AND (role OPERATOR(pg_catalog.=) $1 "
      "       OR pg_catalog.pg_has_role($1, 'pg_read_all_stats', 'USAGE')) "
      "  RETURNING id, run_sql, statement, error) "
      "SELECT id, run_sql, statement, error, "
      "  (SELECT pg_catalog.string_agg(id::pg_catalog.text, ', ' ORDER BY id) FROM claimed) "
      "FROM claimed ORDER BY id LIMIT 1",
      table);
  if (run_pinned_sql(owner, sql, 1, types, values, nullptr, false) == SPI_OK_SELECT &&
      SPI_processed == 1) {
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    auto copy = [&](int column) {
      const char *value = SPI_getvalue(row, desc, column);
      return MemoryContextStrdup(outer, value != nullptr ? value : "");
    };
    item.id = copy(1);
    item.run_sql = copy(2);
    item.statement = copy(3);
    item.error = copy(4);
    const char *all = copy(5);
    if (strcmp(all, item.id) != 0)
      item.more = MemoryContextStrdup(
          outer, psprintf("\nDeferred statements that failed, all told: %s.", all));
  }
  return item;
}

}  // namespace

void start_deferral_worker_at_commit() {
  if (!callback_registered) {
    RegisterXactCallback(at_transaction_end, nullptr);
    callback_registered = true;
  }
  start_at_commit = true;
}

void register_deferral_launcher() {
  BackgroundWorker worker;
  memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 10;  // after a crash too: that is when rows were left running
  strlcpy(worker.bgw_library_name, "zero_downtime", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "zd_deferral_launcher_main", BGW_MAXLEN);
  strlcpy(worker.bgw_name, "zero_downtime deferred work launcher", BGW_MAXLEN);
  strlcpy(worker.bgw_type, "zero_downtime launcher", BGW_MAXLEN);
  RegisterBackgroundWorker(&worker);
}

}  // namespace zd::pg

// CALL zd_deferred_wait(timeout): returns once no row of this database is pending or running;
// after the timeout, 57014.  Commits between looks (it must hold no snapshot: a deferred CREATE
// INDEX CONCURRENTLY waits for every older one).  Starts the database's worker when rows wait
// and none runs (a crash, or a full set of worker slots, left them).
ZD_SQL_FUNCTION(zd_deferred_wait) {
  using namespace zd::pg;
  const bool nonatomic = fcinfo->context != nullptr && IsA(fcinfo->context, CallContext) &&
                         !((CallContext *) fcinfo->context)->atomic;
  if (!nonatomic)
    ereport(ERROR, (errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
                    errmsg("zd_deferred_wait must be called on its own, outside a transaction "
                           "block"),
                    errhint("CALL zd_deferred_wait(); in autocommit.")));
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zd_deferred_wait: timeout must not be NULL")));
  Interval *timeout = PG_GETARG_INTERVAL_P(0);
  const int64 timeout_ms = (int64) (timeout->time / 1000) + (int64) timeout->day * 86400000 +
                           (int64) timeout->month * 30 * 86400000;
  const TimestampTz start = GetCurrentTimestamp();
  const Oid caller = GetUserId();
  MemoryContext outer = CurrentMemoryContext;
  int looks = 0;
  for (;;) {
    if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
      elog(ERROR, "zd_deferred_wait: SPI_connect failed");
    int64 waiting = 0;
    Oid owner;
    const char *table = deferred_table(&owner);
    if (table != nullptr &&
        run_pinned_sql(owner,
                       psprintf("SELECT count(*) FROM %s WHERE state OPERATOR(pg_catalog.=) ANY "
                                "('{pending,running}'::pg_catalog.text[])",
                                table),
                       0, nullptr, nullptr, nullptr, true, 1) == SPI_OK_SELECT &&
        SPI_processed == 1) {
      bool isnull;
      waiting = DatumGetInt64(
          SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
    const FailedItem failed = waiting == 0 && table != nullptr
                                  ? claim_unreported_failure(table, owner, caller, outer)
                                  : FailedItem{};
    SPI_commit();  // no snapshot held while waiting (and the failures claimed stay reported)
    SPI_finish();
    if (failed.id != nullptr)
      ereport(ERROR,
              (errcode(MAKE_SQLSTATE('Z', 'D', '0', '0', '5')),
               errmsg("zd_deferred_wait: deferred statement %s failed: %s", failed.id,
                      failed.run_sql),
               errdetail("It was deferred from: %s\n%s%s", failed.statement, failed.error,
                         failed.more),
               errhint("SELECT * FROM zd_deferred_status WHERE state = 'failed' shows every "
                       "failure; each is reported by one zd_deferred_wait() call.")));
    if (waiting == 0) PG_RETURN_VOID();
    // At the first look and then each second: a worker terminated a moment ago may still hold
    // the database's slot at the first look, its rows left running, and none would start again.
    if (looks++ % 10 == 0) {
      if (lock_database_slot()) {  // no worker runs here: start one
        unlock_database_slot();
        launch_worker(MyDatabaseId, false);
      }
    }
    if (timeout_ms >= 0 &&
        TimestampDifferenceExceeds(start, GetCurrentTimestamp(), (int) Min(timeout_ms, INT_MAX)))
      ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED),
                      errmsg("zd_deferred_wait: %lld deferred statements still pending or "
                             "running",
                             (long long) waiting),
                      errhint("SELECT * FROM zd_deferred_status shows them.")));
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L,
                     PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

// The worker of one database: runs its queued rows until none is left.
extern "C" PGDLLEXPORT void zd_deferral_worker_main(Datum main_arg) {
  using namespace zd::pg;
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
  pgstat_report_appname("zero_downtime deferred");
  MemoryContext context =
      AllocSetContextCreate(TopMemoryContext, "zero_downtime deferred", ALLOCSET_DEFAULT_SIZES);
  MemoryContextSwitchTo(context);
  StartTransactionCommand();
  const bool mine = lock_database_slot();
  CommitTransactionCommand();
  if (!mine) proc_exit(0);  // another worker runs this database's rows
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    MemoryContextSwitchTo(context);
    DeferredItem item;
    wait_for_migration_run();
    if (!claim_next(&item, context)) {
      // None left.  Let go of the slot, then look once more: a row committed between the last
      // look and the release started a worker that found the slot taken.
      unlock_database_slot();
      if (!claim_next(&item, context)) break;
      StartTransactionCommand();
      const bool again = lock_database_slot();
      CommitTransactionCommand();
      if (!again) {
        finish(item, "pending", nullptr);  // the other worker takes it
        break;
      }
    }
    run_item(item, context);
    MemoryContextReset(context);
  }
  proc_exit(0);
}

// The launcher: starts every database's worker once the server is up (rows queued before a
// restart or left by a crash), one after the other, then waits to be stopped.
extern "C" PGDLLEXPORT void zd_deferral_launcher_main(Datum) {
  using namespace zd::pg;
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  pgstat_report_appname("zero_downtime launcher");
  List *databases = NIL;
  StartTransactionCommand();
  Relation pg_database = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(pg_database, 0, nullptr);
  HeapTuple tuple;
  MemoryContext outer = TopMemoryContext;
  while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection))) {
    Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);
    if (db->datallowconn && !db->datistemplate) {
      MemoryContext old = MemoryContextSwitchTo(outer);
      databases = lappend_oid(databases, db->oid);
      MemoryContextSwitchTo(old);
    }
  }
  table_endscan(scan);
  table_close(pg_database, AccessShareLock);
  CommitTransactionCommand();
  ListCell *lc;
  foreach (lc, databases) launch_worker(lfirst_oid(lc), true);
  for (;;) {
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}
