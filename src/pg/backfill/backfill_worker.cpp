// Background mode: zd_backfill_start() checks its arguments like the procedure, then hands
// the same CALL to a background worker that connects as the caller (same role, same
// privileges, the caller's search_path) and runs it; the backfill goes on after the client
// disconnects.  Progress, resume and cancel work as for the procedure: zd_backfill_progress
// shows it, zd_backfill_cancel(name) stops it.
//
// The CALL's text and the caller's search_path (as resolved schema names, so the clauses
// resolve in the worker exactly as they were checked) reach the worker through a dynamic
// shared memory segment.  The starter waits until the backfill has begun in the worker (its
// name taken, its statements prepared, its state row written) or has failed: a worker that
// cannot connect, or a CALL that fails before it begins, is the caller's error, never only a
// line in the server log.  A failure after that is recorded in zd_backfill_progress.
#include "pg/backfill/backfill.hpp"

#include "pg/boundary.hpp"
#include "pg/top_level.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "parser/analyze.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/portal.h"
#include "utils/builtins.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace zd::pg::backfill {
namespace {

// Where the worker is, as the starter sees it.
enum Stage : int { kPending, kBegun, kFailed };

struct Handoff {
  Oid database;
  Oid role;
  Oid schema;                  // the extension's
  volatile sig_atomic_t stage;  // set by the worker: kBegun, or kFailed with the error below
  int sqlerrcode;
  char message[1024];
  char detail[1024];
  char hint[1024];
  char name[256];
  int sql_offset;              // text: the search_path, then the CALL
  char text[FLEXIBLE_ARRAY_MEMBER];
};

const char *ms_literal(int ms) { return quote_literal_cstr(psprintf("%d ms", ms)); }


// Checks everything the CALL would check before it runs (arguments, clauses, privileges), and
// what the worker needs to connect, so that bad input is the caller's error, not a line in the
// server log.
void check_like_the_procedure(const Args *a) {
  if (get_rel_persistence(a->relid) == RELPERSISTENCE_TEMP)
    ereport(ERROR,
            (errcode(ERRCODE_WRONG_OBJECT_TYPE),
             errmsg("zd_backfill_start: %s is a temporary table", a->relation),
             errdetail("A temporary table is visible to this session only, not to a background "
                       "worker."),
             errhint("CALL zd_backfill(...) in this session.")));
  HeapTuple role = SearchSysCache1(AUTHOID, ObjectIdGetDatum(a->role));
  if (!HeapTupleIsValid(role)) elog(ERROR, "zd_backfill_start: role %u not found", a->role);
  const bool can_login = ((Form_pg_authid) GETSTRUCT(role))->rolcanlogin;
  ReleaseSysCache(role);
  if (!can_login)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
             errmsg("zd_backfill_start: the role \"%s\" cannot log in, and the background "
                    "worker would connect as it",
                    GetUserNameFromId(a->role, false)),
             errdetail("The worker connects as the current role, as a client would, and runs "
                       "with its privileges; the role is NOLOGIN."),
             errhint("CALL zd_backfill(...) from a session that stays connected (it runs as the "
                     "current role, LOGIN or not), or call zd_backfill_start as a role that can "
                     "log in.")));
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "zd_backfill_start: SPI_connect failed");
  free_statements(prepare_statements(a));
  SPI_finish();
}

Handoff *worker_handoff;      // the worker's view of the segment, until the backfill begins
dsm_segment *worker_segment;

void copy_text(char *to, size_t size, const char *from) { strlcpy(to, from ? from : "", size); }

// Called by the procedure in the worker once the backfill has begun: the starter may return.
void tell_starter_begun() {
  if (worker_handoff == nullptr) return;
  pg_write_barrier();
  worker_handoff->stage = kBegun;
  dsm_detach(worker_segment);
  worker_handoff = nullptr;
}

}  // namespace

const char *call_text(const Args *a) {
  return psprintf(
      "CALL %s.zd_backfill(%s, %s, %s, name => %s, batch_size => %d, "
      "target_batch_duration => %s, pause => %s, lock_timeout => %s, max_replica_lag => %s, "
      "max_retries => %d, progress_interval => %s)",
      quote_identifier(get_namespace_name(a->schema)), quote_literal_cstr(a->relation),
      quote_literal_cstr(a->set_clause), quote_literal_cstr(a->where_clause),
      quote_literal_cstr(a->name), a->batch_rows,
      a->target_ms < 0 ? "NULL" : ms_literal(a->target_ms), ms_literal(a->pause_ms),
      ms_literal(a->lock_timeout_ms),
      a->max_replica_lag_ms < 0 ? "NULL" : ms_literal(a->max_replica_lag_ms), a->max_retries,
      ms_literal(a->progress_interval_ms));
}

}  // namespace zd::pg::backfill

ZD_SQL_FUNCTION(zd_backfill_start) {
  using namespace zd::pg::backfill;
  const Args *args = read_args(fcinfo);
  check_like_the_procedure(args);

  const char *search_path = zd::pg::resolved_search_path();
  const char *sql = call_text(args);
  const size_t path_size = strlen(search_path) + 1;
  dsm_segment *segment =
      dsm_create(offsetof(Handoff, text) + path_size + strlen(sql) + 1, 0);
  Handoff *handoff = (Handoff *) dsm_segment_address(segment);
  memset(handoff, 0, offsetof(Handoff, text));
  handoff->database = MyDatabaseId;
  handoff->role = args->role;
  handoff->schema = args->schema;
  handoff->stage = kPending;
  strlcpy(handoff->name, args->name, sizeof handoff->name);
  handoff->sql_offset = (int) path_size;
  strcpy(handoff->text, search_path);
  strcpy(handoff->text + path_size, sql);

  BackgroundWorker worker;
  memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(worker.bgw_library_name, "zero_downtime", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "zd_backfill_worker_main", BGW_MAXLEN);
  snprintf(worker.bgw_name, BGW_MAXLEN, "zd_backfill %s", args->name);
  strlcpy(worker.bgw_type, "zd_backfill", BGW_MAXLEN);
  worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
  worker.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle *handle;
  if (!RegisterDynamicBackgroundWorker(&worker, &handle))
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zd_backfill_start: could not start a background worker for \"%s\"",
                           args->name),
                    errdetail("Every one of max_worker_processes (%d) is in use.",
                              max_worker_processes),
                    errhint("Raise max_worker_processes (a restart), or CALL zd_backfill(...) "
                            "from a session that stays connected.")));
  pid_t pid;
  BgwHandleStatus status = WaitForBackgroundWorkerStartup(handle, &pid);
  if (status != BGWH_STARTED && status != BGWH_STOPPED)
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zd_backfill_start: the background worker for \"%s\" did not start",
                           args->name),
                    errhint("The server log says why.")));
  // Until the backfill has begun, the segment must stay: it goes with this call.
  while (handoff->stage == kPending) {
    if (status == BGWH_STOPPED) {
      pg_read_barrier();
      if (handoff->stage != kPending) break;
      ereport(ERROR,
              (errcode(ERRCODE_CONNECTION_FAILURE),
               errmsg("zd_backfill_start: the background worker for \"%s\" stopped before the "
                      "backfill began",
                      args->name),
               errdetail("It could not connect to database \"%s\" as role \"%s\" (no CONNECT "
                         "privilege on the database, or the database allows no connections), "
                         "or it was terminated.",
                         get_database_name(MyDatabaseId), GetUserNameFromId(args->role, false)),
               errhint("The server log says why. CALL zd_backfill(...) from a session that "
                       "stays connected runs the same backfill.")));
    }
    zd::pg::sleep_ms(10);
    status = GetBackgroundWorkerPid(handle, &pid);
  }
  pg_read_barrier();
  if (handoff->stage == kFailed) {
    // The worker's own error, as the caller's.
    const int code = handoff->sqlerrcode;
    const char *message = pstrdup(handoff->message);
    const char *detail = pstrdup(handoff->detail);
    const char *hint = pstrdup(handoff->hint);
    dsm_detach(segment);
    ereport(ERROR, (errcode(code), errmsg("%s", message),
                    *detail ? errdetail("%s", detail) : 0, *hint ? errhint("%s", hint) : 0,
                    errcontext("zd_backfill_start's background worker for \"%s\"",
                               args->name)));
  }
  dsm_detach(segment);
  ereport(NOTICE, (errmsg("zd_backfill \"%s\" runs in the background (pid %d)", args->name,
                          (int) pid),
                   errhint("SELECT * FROM zd_backfill_progress WHERE name = %s; to stop it: "
                           "SELECT zd_backfill_cancel(%s);",
                           quote_literal_cstr(args->name), quote_literal_cstr(args->name))));
  PG_RETURN_TEXT_P(cstring_to_text(args->name));
}

// The worker: connects to the caller's database as the caller, takes the caller's search_path,
// and runs the CALL, non-atomic, so that its batches commit as they would in a session.  An
// error before the backfill began goes to the starter; after, into zd_backfill_progress (a
// cancel leaves it 'interrupted', to be resumed, as in a session).  Either way it is logged.
extern "C" PGDLLEXPORT void zd_backfill_worker_main(Datum main_arg) {
  using namespace zd::pg::backfill;
  BackgroundWorkerUnblockSignals();
  worker_segment = dsm_attach(DatumGetUInt32(main_arg));
  if (worker_segment == nullptr)
    ereport(ERROR, (errmsg("zd_backfill worker: its shared memory segment is gone")));
  worker_handoff = (Handoff *) dsm_segment_address(worker_segment);
  const Oid database = worker_handoff->database;
  const Oid role = worker_handoff->role;
  const Oid schema = worker_handoff->schema;
  const char *name = MemoryContextStrdup(TopMemoryContext, worker_handoff->name);
  const char *search_path = MemoryContextStrdup(TopMemoryContext, worker_handoff->text);
  const char *sql =
      MemoryContextStrdup(TopMemoryContext, worker_handoff->text + worker_handoff->sql_offset);

  // A failure to connect is FATAL here: the starter sees the worker stop and reports it.
  BackgroundWorkerInitializeConnectionByOid(database, role, 0);
  pgstat_report_appname("zd_backfill");
  SetConfigOption("search_path", search_path, PGC_USERSET, PGC_S_SESSION);
  backfill_begun_hook = tell_starter_begun;
  PG_TRY();
  { zd::pg::run_top_level_statement(sql); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(TopMemoryContext);
    ErrorData *error = CopyErrorData();
    EmitErrorReport();
    FlushErrorState();
    AbortCurrentTransaction();
    if (worker_handoff != nullptr) {
      worker_handoff->sqlerrcode = error->sqlerrcode;
      copy_text(worker_handoff->message, sizeof worker_handoff->message, error->message);
      copy_text(worker_handoff->detail, sizeof worker_handoff->detail, error->detail);
      copy_text(worker_handoff->hint, sizeof worker_handoff->hint, error->hint);
      pg_write_barrier();
      worker_handoff->stage = kFailed;
      dsm_detach(worker_segment);
      worker_handoff = nullptr;
    } else if (error->sqlerrcode != ERRCODE_QUERY_CANCELED) {
      StartTransactionCommand();
      if (SPI_connect() == SPI_OK_CONNECT) {
        save_error(schema, role, name, error->message);
        SPI_finish();
      }
      CommitTransactionCommand();
    }
    proc_exit(1);
  }
  PG_END_TRY();
}
