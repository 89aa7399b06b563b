// The columns each INSERT (and COPY FROM) names, for the sync trigger: a row trigger sees the
// finished row, not which columns the statement set and which took their defaults, and that is
// what tells an old client's insert (old column only) from a new client's (new column only).
// While the executor runs a plan that inserts, and while COPY FROM runs, its relation and
// column set are on a small stack; the innermost entry for a relation is the statement whose
// row the trigger sees (a nested statement pushes its own and pops it, error or not).
// Cost for statements that insert nothing: one test; for inserts while this database has no
// sync trigger (no active migration): one read of a shared counter (usage.cpp).
#include "pg/expand/expand.hpp"

#include "pg/utility_hook.hpp"

extern "C" {
#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
}

namespace zd::pg::expand {
namespace {

struct Entry {
  Oid relid;
  const Bitmapset *columns;
};

const int kDepth = 32;
Entry stack[kDepth];
int depth = 0;     // entries in use (at most kDepth)
int overflow = 0;  // pushes beyond kDepth: not recorded (the trigger falls back)

ExecutorRun_hook_type prev_executor_run = nullptr;

void push(Oid relid, const Bitmapset *columns, void *) {
  if (depth < kDepth) stack[depth++] = Entry{relid, columns};
  else overflow++;
}

// Pops what a statement pushed: entries above `mark` (and its overflow).
void pop_to(int mark, int overflow_mark) {
  depth = mark;
  overflow = overflow_mark;
}

void run_executor(ZD_EXECUTOR_RUN_PARAMS) {
  if (prev_executor_run != nullptr)
    prev_executor_run(ZD_EXECUTOR_RUN_ARGS);
  else
    standard_ExecutorRun(ZD_EXECUTOR_RUN_ARGS);
}

void executor_run(ZD_EXECUTOR_RUN_PARAMS) {
  if (!ZD_HAS_RESULT_RELATION(query->plannedstmt) || query->operation == CMD_DELETE ||
      !sync_triggers_may_exist()) {
    run_executor(ZD_EXECUTOR_RUN_ARGS);
    return;
  }
  const int mark = depth, overflow_mark = overflow;
  compat::for_each_inserted_relation(query->plannedstmt, push, nullptr);
  if (depth == mark && overflow == overflow_mark) {
    run_executor(ZD_EXECUTOR_RUN_ARGS);
    return;
  }
  PG_TRY();
  { run_executor(ZD_EXECUTOR_RUN_ARGS); }
  PG_FINALLY();
  { pop_to(mark, overflow_mark); }
  PG_END_TRY();
}

}  // namespace

// COPY t (a, b) FROM ...: those columns (no list: every column).  Called by the ProcessUtility
// hook (utility_hook.cpp) for every COPY, in the place of the rest of the chain.
void run_copy(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
              ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
              DestReceiver *dest, QueryCompletion *qc) {
  Node *stmt = pstmt->utilityStmt;
  // COPY of a table either way reads or writes its columns: evidence for contract.
  if (((CopyStmt *) stmt)->relation != nullptr && watching()) {
    const Oid relid = RangeVarGetRelid(((CopyStmt *) stmt)->relation, NoLock, true);
    if (OidIsValid(relid)) note_copy(relid, ((CopyStmt *) stmt)->attlist);
  }
  if (!((CopyStmt *) stmt)->is_from || ((CopyStmt *) stmt)->relation == nullptr ||
      !sync_triggers_may_exist()) {
    call_next_process_utility(pstmt, query_string, read_only_tree, context, params, query_env,
                              dest, qc);
    return;
  }
  CopyStmt *copy = (CopyStmt *) stmt;
  const Oid relid = RangeVarGetRelid(copy->relation, NoLock, true);
  Bitmapset *columns = nullptr;
  if (OidIsValid(relid)) {
    if (copy->attlist == NIL) {
      HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
      const int natts = HeapTupleIsValid(tuple) ? ((Form_pg_class) GETSTRUCT(tuple))->relnatts : 0;
      if (HeapTupleIsValid(tuple)) ReleaseSysCache(tuple);
      for (int i = 1; i <= natts; i++)
        columns = bms_add_member(columns, i - FirstLowInvalidHeapAttributeNumber);
    } else {
      ListCell *lc;
      foreach (lc, copy->attlist) {
        const AttrNumber attnum = get_attnum(relid, strVal(lfirst(lc)));
        if (attnum != InvalidAttrNumber)
          columns = bms_add_member(columns, attnum - FirstLowInvalidHeapAttributeNumber);
      }
    }
  }
  const int mark = depth, overflow_mark = overflow;
  if (columns != nullptr) push(relid, columns, nullptr);
  PG_TRY();
  {
    call_next_process_utility(pstmt, query_string, read_only_tree, context, params, query_env,
                              dest, qc);
  }
  PG_FINALLY();
  { pop_to(mark, overflow_mark); }
  PG_END_TRY();
}

const Bitmapset *inserted_columns(Oid relid) {
  if (overflow > 0) return nullptr;  // the innermost statement was not recorded
  for (int i = depth - 1; i >= 0; i--)
    if (stack[i].relid == relid) return stack[i].columns;
  return nullptr;
}

void install_insert_columns_hook() {
  prev_executor_run = ExecutorRun_hook;
  ExecutorRun_hook = executor_run;
}

}  // namespace zd::pg::expand
