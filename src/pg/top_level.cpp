#include "pg/top_level.hpp"

#include "pg/compat.h"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "parser/analyze.h"
#include "pgstat.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_index.h"
}

namespace zd::pg {

void run_top_level_statement(const char *sql) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  pgstat_report_activity(STATE_RUNNING, sql);
  // The parse and plan trees must outlive the transactions the statement commits (a client's
  // statement keeps them in MessageContext).
  MemoryContext statement = AllocSetContextCreate(TopMemoryContext, "zero_downtime statement",
                                                  ALLOCSET_DEFAULT_SIZES);
  MemoryContext transaction = MemoryContextSwitchTo(statement);
  RawStmt *raw = linitial_node(RawStmt, pg_parse_query(sql));
  const CommandTag tag = CreateCommandTag(raw->stmt);
  const bool snapshot = analyze_requires_snapshot(raw);
  if (snapshot) PushActiveSnapshot(GetTransactionSnapshot());
  List *queries = pg_analyze_and_rewrite_fixedparams(raw, sql, nullptr, 0, nullptr);
  List *plans = pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, nullptr);
  if (snapshot) PopActiveSnapshot();
  MemoryContextSwitchTo(transaction);
  Portal portal = CreatePortal("", true, true);
  portal->visible = false;
  PortalDefineQuery(portal, nullptr, sql, tag, plans, nullptr);
  PortalStart(portal, nullptr, 0, InvalidSnapshot);
  DestReceiver *receiver = CreateDestReceiver(DestNone);
  QueryCompletion qc;
  InitializeQueryCompletion(&qc);
  (void) ZD_PORTAL_RUN(portal, FETCH_ALL, true, receiver, receiver, &qc);
  receiver->rDestroy(receiver);
  PortalDrop(portal, false);
  CommitTransactionCommand();
  MemoryContextDelete(statement);
  pgstat_report_activity(STATE_IDLE, nullptr);
}

bool is_invalid_index(const char *qualified) {
  StartTransactionCommand();
  RangeVar *rv = makeRangeVarFromNameList(ZD_QUALIFIED_NAME_LIST(qualified));
  const Oid index = RangeVarGetRelid(rv, NoLock, true);
  bool invalid = false;
  HeapTuple tuple = OidIsValid(index) ? SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index))
                                      : nullptr;
  if (HeapTupleIsValid(tuple)) {
    invalid = !((Form_pg_index) GETSTRUCT(tuple))->indisvalid;
    ReleaseSysCache(tuple);
  }
  CommitTransactionCommand();
  return invalid;
}

List *statement_texts(const char *sql) {
  List *texts = NIL;
  ListCell *lc;
  foreach (lc, pg_parse_query(sql)) {
    const RawStmt *raw = lfirst_node(RawStmt, lc);
    const int from = Max(raw->stmt_location, 0);
    texts = lappend(texts, raw->stmt_len > 0 ? pnstrdup(sql + from, raw->stmt_len)
                                             : pstrdup(sql + from));
  }
  return texts;
}

const char *resolved_search_path() {
  StringInfoData path;
  initStringInfo(&path);
  List *schemas = fetch_search_path(true);
  ListCell *lc;
  foreach (lc, schemas) {
    const Oid schema = lfirst_oid(lc);
    if (isAnyTempNamespace(schema)) continue;
    const char *name = get_namespace_name(schema);
    if (name != nullptr)
      appendStringInfo(&path, "%s%s", path.len ? ", " : "", quote_identifier(name));
  }
  list_free(schemas);
  return path.len ? path.data : "pg_catalog";
}

}  // namespace zd::pg
