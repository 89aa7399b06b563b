#include "pg/rewrite.hpp"

#include "pg/lock_cap.hpp"
#include "pg/stats.hpp"
#include "pg/utility_hook.hpp"

extern "C" {
#include "access/xact.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
}

namespace zd::pg {
namespace {

void run_step(void *sql) { run_utility_sql((const char *) sql); }

void add_failure_report(const PlanStep &step, MemoryContext context) {
  MemoryContextSwitchTo(context);
  ErrorData *error = CopyErrorData();
  FlushErrorState();
  error->detail = error->detail ? psprintf("%s\n%s", error->detail, step.failure_detail)
                                : pstrdup(step.failure_detail);
  error->hint = error->hint ? psprintf("%s\n%s", error->hint, step.failure_hint)
                            : pstrdup(step.failure_hint);
  ReThrowError(error);
}

}  // namespace

void run_utility_sql(const char *sql) {
  List *parsed = pg_parse_query(sql);
  if (list_length(parsed) != 1)
    elog(ERROR, "zero_downtime: a rewrite step must be one statement: %s", sql);
  RawStmt *raw = linitial_node(RawStmt, parsed);
  List *queries = pg_analyze_and_rewrite_fixedparams(raw, sql, nullptr, 0, nullptr);
  PlannedStmt *stmt =
      linitial_node(PlannedStmt, pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, nullptr));
  bool snapshot = PlannedStmtRequiresSnapshot(stmt);
  if (snapshot) PushActiveSnapshot(GetTransactionSnapshot());
  QueryCompletion qc;
  InitializeQueryCompletion(&qc);
  call_next_process_utility(stmt, sql, false, PROCESS_UTILITY_TOPLEVEL, nullptr, nullptr,
                            None_Receiver, &qc);
  // CREATE INDEX CONCURRENTLY and friends pop it themselves when they commit.
  if (snapshot && ActiveSnapshotSet()) PopActiveSnapshot();
}

void run_rewrite(const GuardPlan *plan) {
  const PlanFinding &finding = plan->findings[0];
  stats_count(finding.rule, kStatRewritten);
  ereport(NOTICE, (errmsg("zero_downtime: %s; running its safe form instead", finding.message),
                   errdetail("%s", finding.detail), errhint("%s", finding.hint)));
  ereport(LOG, (errmsg("zero_downtime: rewrote (%s): %s", finding.rule, finding.message),
                errhidestmt(true)));

  MemoryContext context = CurrentMemoryContext;  // the portal's: it outlives our commits
  // The snapshot PortalRunUtility pushed belongs to the statement being replaced; each step
  // takes its own, and none may stay active across a commit.
  while (ActiveSnapshotSet()) PopActiveSnapshot();
  for (int i = 0; i < plan->n_steps; i++) {
    const PlanStep &step = plan->steps[i];
    if (i > 0) {
      CommitTransactionCommand();
      StartTransactionCommand();
      MemoryContextSwitchTo(context);
    }
    // Each step in a memory context of its own, freed when it is done: hooks below ours that
    // keep per-statement state in the current context (pgaudit's stack) see the step end.
    MemoryContext step_context =
        AllocSetContextCreate(context, "zero_downtime step", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(step_context);
    CapTarget target{step.lock, step.locked_table, true, true, finding.rule};
    PG_TRY();
    { run_with_lock_cap(target, run_step, (void *) step.sql); }
    PG_CATCH();
    { add_failure_report(step, context); }
    PG_END_TRY();
    MemoryContextSwitchTo(context);
    MemoryContextDelete(step_context);
  }
}

}  // namespace zd::pg
