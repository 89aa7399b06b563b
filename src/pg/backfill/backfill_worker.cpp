// Background mode: zd_backfill_start() checks its arguments like the procedure, then hands
// the same CALL to a background worker that connects as the caller (same privileges) and runs
// it; the backfill goes on after the client disconnects.  Progress, resume and cancel work as
// for the procedure: zd_backfill_progress shows it, zd_backfill_cancel(name) stops it.
//
// The CALL's text reaches the worker through a dynamic shared memory segment; the starter
// waits until the worker has copied it, so the segment can go when the starter's call ends.
#include "pg/backfill/backfill.hpp"

#include "pg/boundary.hpp"

extern "C" {
#include "access/xact.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "parser/analyze.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/portal.h"
#include "utils/builtins.h"
#include "utils/backend_status.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace zd::pg::backfill {
namespace {

struct Handoff {
  Oid database;
  Oid role;
  volatile sig_atomic_t copied;  // set by the worker once it holds its own copy
  char name[256];
  char sql[FLEXIBLE_ARRAY_MEMBER];
};

const char *ms_literal(int ms) { return quote_literal_cstr(psprintf("%d ms", ms)); }

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

// Checks everything the CALL would check before it runs (arguments, clauses, privileges), so
// that bad input is the caller's error, not a line in the server log.
void check_like_the_procedure(const Args *a) {
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "zd_backfill_start: SPI_connect failed");
  free_statements(prepare_statements(a));
  SPI_finish();
}

// Runs the CALL as a client's top-level statement does (exec_simple_query): through a portal,
// outside any transaction block, so it is non-atomic and its batches commit.
void run_as_top_level_statement(const char *sql) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  pgstat_report_activity(STATE_RUNNING, sql);
  // The parse and plan trees must outlive the transactions the CALL commits (a client's
  // statement keeps them in MessageContext).
  MemoryContext statement = AllocSetContextCreate(TopMemoryContext, "zd_backfill statement",
                                                  ALLOCSET_DEFAULT_SIZES);
  MemoryContext transaction = MemoryContextSwitchTo(statement);
  RawStmt *raw = linitial_node(RawStmt, pg_parse_query(sql));
  const bool snapshot = analyze_requires_snapshot(raw);
  if (snapshot) PushActiveSnapshot(GetTransactionSnapshot());
  List *queries = pg_analyze_and_rewrite_fixedparams(raw, sql, nullptr, 0, nullptr);
  List *plans = pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, nullptr);
  if (snapshot) PopActiveSnapshot();
  MemoryContextSwitchTo(transaction);
  Portal portal = CreatePortal("", true, true);
  portal->visible = false;
  PortalDefineQuery(portal, nullptr, sql, CMDTAG_CALL, plans, nullptr);
  PortalStart(portal, nullptr, 0, InvalidSnapshot);
  DestReceiver *receiver = CreateDestReceiver(DestNone);
  QueryCompletion qc;
  InitializeQueryCompletion(&qc);
  (void) PortalRun(portal, FETCH_ALL, true, true, receiver, receiver, &qc);
  receiver->rDestroy(receiver);
  PortalDrop(portal, false);
  CommitTransactionCommand();
  MemoryContextDelete(statement);
  pgstat_report_activity(STATE_IDLE, nullptr);
}

}  // namespace
}  // namespace zd::pg::backfill

ZD_SQL_FUNCTION(zd_backfill_start) {
  using namespace zd::pg::backfill;
  const Args *args = read_args(fcinfo);
  check_like_the_procedure(args);

  const char *sql = call_text(args);
  dsm_segment *segment = dsm_create(offsetof(Handoff, sql) + strlen(sql) + 1, 0);
  Handoff *handoff = (Handoff *) dsm_segment_address(segment);
  handoff->database = MyDatabaseId;
  handoff->role = GetUserId();
  handoff->copied = 0;
  strlcpy(handoff->name, args->name, sizeof handoff->name);
  strcpy(handoff->sql, sql);

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
  if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zd_backfill_start: the background worker for \"%s\" did not start",
                           args->name),
                    errhint("The server log says why.")));
  // Until the worker has its copy, the segment must stay: it goes with this call.
  while (!handoff->copied) {
    if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
      ereport(ERROR, (errmsg("zd_backfill_start: the background worker for \"%s\" stopped at "
                             "once", args->name),
                      errhint("The server log says why.")));
    zd::pg::sleep_ms(10);
  }
  dsm_detach(segment);
  ereport(NOTICE, (errmsg("zd_backfill \"%s\" runs in the background (pid %d)", args->name,
                          (int) pid),
                   errhint("SELECT * FROM zd_backfill_progress WHERE name = %s; to stop it: "
                           "SELECT zd_backfill_cancel(%s);",
                           quote_literal_cstr(args->name), quote_literal_cstr(args->name))));
  PG_RETURN_TEXT_P(cstring_to_text(args->name));
}

// The worker: connects to the caller's database as the caller and runs the CALL, non-atomic,
// so that its batches commit as they would in a session.  An error ends it, logged.
extern "C" PGDLLEXPORT void zd_backfill_worker_main(Datum main_arg) {
  using namespace zd::pg::backfill;
  BackgroundWorkerUnblockSignals();
  dsm_segment *segment = dsm_attach(DatumGetUInt32(main_arg));
  if (segment == nullptr)
    ereport(ERROR, (errmsg("zd_backfill worker: its shared memory segment is gone")));
  Handoff *handoff = (Handoff *) dsm_segment_address(segment);
  const Oid database = handoff->database;
  const Oid role = handoff->role;
  char *sql = MemoryContextStrdup(TopMemoryContext, handoff->sql);
  pg_write_barrier();
  handoff->copied = 1;
  dsm_detach(segment);

  BackgroundWorkerInitializeConnectionByOid(database, role, 0);
  pgstat_report_appname("zd_backfill");
  run_as_top_level_statement(sql);
}
