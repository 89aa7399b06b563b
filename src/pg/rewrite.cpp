#include "pg/rewrite.hpp"

#include "pg/lock_cap.hpp"
#include "pg/stats.hpp"
#include "pg/utility_hook.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
}

namespace zd::pg {
namespace {

// The index a schema-qualified, quoted name names, or InvalidOid.
Oid index_named(const char *qualified) {
  RangeVar *rv = makeRangeVarFromNameList(ZD_QUALIFIED_NAME_LIST(qualified));
  return RangeVarGetRelid(rv, NoLock, true);
}

// Whether `index` is an index and, if so, whether it is valid.
bool index_validity(Oid index, bool *valid) {
  HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
  if (!HeapTupleIsValid(tuple)) return false;
  *valid = ((Form_pg_index) GETSTRUCT(tuple))->indisvalid;
  ReleaseSysCache(tuple);
  return true;
}

void run_step(void *arg) {
  const PlanStep *step = (const PlanStep *) arg;
  if (step->only_if_invalid_index[0] != '\0') {
    // Lock the table as the DROP INDEX CONCURRENTLY will, then look: a build of that index in
    // another session holds the lock until it is done, and an index it made valid stays.
    Oid index = index_named(step->only_if_invalid_index);
    const Oid table = OidIsValid(index) ? IndexGetRelation(index, true) : InvalidOid;
    if (!OidIsValid(table)) return;
    LockRelationOid(table, ShareUpdateExclusiveLock);
    index = index_named(step->only_if_invalid_index);
    bool valid = true;
    if (!OidIsValid(index) || IndexGetRelation(index, true) != table ||
        !index_validity(index, &valid) || valid) {
      ereport(NOTICE, (errmsg("zero_downtime: %s is no longer an INVALID index; not dropped",
                              step->only_if_invalid_index)));
      return;
    }
  }
  run_utility_sql(step->sql);
}

// The failed transaction is over first: a new one reads the catalog as it is now.
void fresh_transaction(MemoryContext context) {
  HOLD_INTERRUPTS();
  AbortCurrentTransaction();
  RESUME_INTERRUPTS();
  StartTransactionCommand();
  MemoryContextSwitchTo(context);
}

// After a failed step, whether the catalog holds its leftover: `qualified` as an INVALID index.
// Any error here says "left" (the report then names what may be there) rather than losing the
// step's.
bool leftover_in_catalog(const char *qualified, MemoryContext context) {
  fresh_transaction(context);
  volatile bool left = true;
  PG_TRY();
  {
    const Oid index = index_named(qualified);
    bool valid = true;
    left = OidIsValid(index) && index_validity(index, &valid) && !valid;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    FlushErrorState();
    left = true;
  }
  PG_END_TRY();
  MemoryContextSwitchTo(context);
  return left;
}

// After a failed REINDEX ... CONCURRENTLY: one DROP INDEX CONCURRENTLY of each INVALID index
// named *_ccnew (on `table`, or on any table), a line each; "" when the catalog shows none;
// nullptr when it could not be read (the report then names what may be there).
const char *ccnew_leftovers(Oid table, MemoryContext context) {
  fresh_transaction(context);
  const char *volatile drops = nullptr;
  PG_TRY();
  {
    StringInfoData out;
    initStringInfo(&out);
    Relation indexes = table_open(IndexRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(table));
    SysScanDesc scan = systable_beginscan(indexes, IndexIndrelidIndexId, OidIsValid(table),
                                          nullptr, OidIsValid(table) ? 1 : 0, &key);
    for (HeapTuple tuple; HeapTupleIsValid(tuple = systable_getnext(scan));) {
      const Form_pg_index index = (Form_pg_index) GETSTRUCT(tuple);
      const char *name = get_rel_name(index->indexrelid);
      if (index->indisvalid || name == nullptr || strstr(name, "_ccnew") == nullptr) continue;
      appendStringInfo(&out, "%sDROP INDEX CONCURRENTLY %s;", out.len > 0 ? "\n" : "",
                       quote_qualified_identifier(
                           get_namespace_name(get_rel_namespace(index->indexrelid)), name));
    }
    systable_endscan(scan);
    table_close(indexes, AccessShareLock);
    drops = out.data;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    FlushErrorState();
    drops = nullptr;
  }
  PG_END_TRY();
  MemoryContextSwitchTo(context);
  return drops;
}

// `text` with `marker` replaced by `by` (the first time), or `text` when it has none.
const char *replaced(const char *text, const char *marker, const char *by) {
  const char *at = strstr(text, marker);
  if (at == nullptr) return text;
  return psprintf("%.*s%s%s", (int) (at - text), text, by, at + strlen(marker));
}

void add_failure_report(const PlanStep &step, MemoryContext context) {
  MemoryContextSwitchTo(context);
  ErrorData *error = CopyErrorData();
  FlushErrorState();
  bool left = true;
  const char *drops = nullptr;
  if (step.leftover_index[0] != '\0') {
    left = leftover_in_catalog(step.leftover_index, context);
  } else if (step.leftover_ccnew) {
    drops = ccnew_leftovers(step.leftover_ccnew_table, context);
    left = drops == nullptr || drops[0] != '\0';
  }
  const char *detail = left ? step.failure_detail : step.clean_failure_detail;
  const char *hint = left ? step.failure_hint : step.clean_failure_hint;
  if (drops != nullptr && drops[0] != '\0')
    hint = replaced(replaced(hint, psprintf("%s;", zd::kCcnewDrops), drops),
                    psprintf("%s;", zd::kCcnewDrops), drops);
  error->detail = error->detail ? psprintf("%s\n%s", error->detail, detail) : pstrdup(detail);
  error->hint = error->hint ? psprintf("%s\n%s", error->hint, hint) : pstrdup(hint);
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
    { run_with_lock_cap(target, run_step, (void *) &step); }
    PG_CATCH();
    { add_failure_report(step, context); }
    PG_END_TRY();
    MemoryContextSwitchTo(context);
    MemoryContextDelete(step_context);
  }
}

}  // namespace zd::pg
