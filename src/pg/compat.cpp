// The functions of the compatibility layer (compat.h): version differences that need headers
// of their own.
#include "pg/pg_headers.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "utils/backend_status.h"
#include "utils/syscache.h"
}

namespace zd::pg::compat {

List *permission_entries(const Query *query) {
#if PG_VERSION_NUM >= 160000
  return query->rteperminfos;
#else
  List *entries = NIL;
  ListCell *lc;
  foreach (lc, query->rtable) {
    RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind == RTE_RELATION) entries = lappend(entries, rte);
  }
  return entries;
#endif
}

void for_each_inserted_relation(const PlannedStmt *planned,
                                void (*fn)(Oid relid, const Bitmapset *columns, void *arg),
                                void *arg) {
#if PG_VERSION_NUM >= 190000
  int rti = -1;
  while ((rti = bms_next_member(planned->resultRelationRelids, rti)) >= 0) {
#else
  ListCell *lc;
  foreach (lc, planned->resultRelations) {
    const int rti = lfirst_int(lc);
#endif
    RangeTblEntry *rte = rt_fetch(rti, planned->rtable);
    if (rte->rtekind != RTE_RELATION) continue;
#if PG_VERSION_NUM >= 160000
    if (rte->perminfoindex == 0) continue;
    const RTEPermissionInfo *perm =
        list_nth_node(RTEPermissionInfo, planned->permInfos, rte->perminfoindex - 1);
    if (perm->insertedCols != nullptr) fn(rte->relid, perm->insertedCols, arg);
#else
    if (rte->insertedCols != nullptr) fn(rte->relid, rte->insertedCols, arg);
#endif
  }
}

void for_each_used_relation(const PlannedStmt *planned,
                            void (*fn)(Oid relid, const Bitmapset *selected,
                                       const Bitmapset *inserted, const Bitmapset *updated,
                                       void *arg),
                            void *arg) {
#if PG_VERSION_NUM >= 160000
  ListCell *lc;
  foreach (lc, planned->permInfos) {
    const RTEPermissionInfo *perm = lfirst_node(RTEPermissionInfo, lc);
    fn(perm->relid, perm->selectedCols, perm->insertedCols, perm->updatedCols, arg);
  }
#else
  ListCell *lc;
  foreach (lc, planned->rtable) {
    const RangeTblEntry *rte = (const RangeTblEntry *) lfirst(lc);
    if (rte->rtekind != RTE_RELATION) continue;
    fn(rte->relid, rte->selectedCols, rte->insertedCols, rte->updatedCols, arg);
  }
#endif
}

bool check_query_permissions(const Query *query, bool ereport_on_violation) {
#if PG_VERSION_NUM >= 160000
  return ExecCheckPermissions(query->rtable, query->rteperminfos, ereport_on_violation);
#else
  return ExecCheckRTPerms(query->rtable, ereport_on_violation);
#endif
}

bool check_permission_entry(RelPermissions *entry) {
#if PG_VERSION_NUM >= 160000
  // Not ExecCheckPermissions: with assertions on, it checks the entries against a range table.
  return ExecCheckOneRelPerms(entry);
#else
  return ExecCheckRTPerms(list_make1(entry), false);
#endif
}

bool column_not_null_validated(Oid relid, int16 attnum) {
  HeapTuple tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
  if (!HeapTupleIsValid(tuple)) return false;
  bool not_null = ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
  ReleaseSysCache(tuple);
#if PG_VERSION_NUM >= 180000
  if (not_null) {
    HeapTuple constraint = findNotNullConstraintAttnum(relid, attnum);
    not_null = HeapTupleIsValid(constraint) &&
               ((Form_pg_constraint) GETSTRUCT(constraint))->convalidated;
    if (HeapTupleIsValid(constraint)) heap_freetuple(constraint);
  }
#endif
  return not_null;
}

const char *column_not_null_not_valid(Oid relid, int16 attnum) {
#if PG_VERSION_NUM >= 180000
  HeapTuple constraint = findNotNullConstraintAttnum(relid, attnum);
  if (!HeapTupleIsValid(constraint)) return nullptr;
  const Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(constraint);
  const char *name = con->convalidated ? nullptr : pstrdup(NameStr(con->conname));
  heap_freetuple(constraint);
  return name;
#else
  (void) relid;
  (void) attnum;
  return nullptr;
#endif
}

const char *backend_state_name(int state) {
  switch ((BackendState) state) {
    case STATE_UNDEFINED: break;
#if PG_VERSION_NUM >= 180000
    case STATE_STARTING: return "starting";
#endif
    case STATE_IDLE: return "idle";
    case STATE_RUNNING: return "active";
    case STATE_IDLEINTRANSACTION: return "idle in transaction";
    case STATE_FASTPATH: return "fastpath function call";
    case STATE_IDLEINTRANSACTION_ABORTED: return "idle in transaction (aborted)";
    case STATE_DISABLED: return "disabled";
  }
  return "unknown state";
}

}  // namespace zd::pg::compat
