// The functions of the compatibility layer (compat.h): version differences that need headers
// of their own.
#include "pg/pg_headers.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "commands/defrem.h"
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

bool is_repack(const ClusterStatement *stmt) {
#if PG_VERSION_NUM >= 190000
  return stmt->command == REPACK_COMMAND_REPACK;
#else
  (void) stmt;
  return false;
#endif
}

bool repack_concurrently(const ClusterStatement *stmt) {
#if PG_VERSION_NUM >= 190000
  ListCell *lc;
  foreach (lc, stmt->params) {
    DefElem *opt = (DefElem *) lfirst(lc);
    if (strcmp(opt->defname, "concurrently") == 0) return defGetBoolean(opt);
  }
#else
  (void) stmt;
#endif
  return false;
}

bool cluster_uses_index(const ClusterStatement *stmt) {
#if PG_VERSION_NUM >= 190000
  return stmt->command == REPACK_COMMAND_CLUSTER || stmt->usingindex;
#else
  (void) stmt;
  return true;
#endif
}

const char *cluster_index_name(const ClusterStatement *stmt) { return stmt->indexname; }

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
