// The two statements zd_backfill runs, built from the caller's clauses and prepared once: the
// UPDATE of every batch, checked to be exactly one UPDATE of the table restricted to the
// batch's TID range, and the read that looks for rows still matching where_clause.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "storage/itemptr.h"
#include "utils/plancache.h"
}

namespace zd::pg::backfill {
namespace {

// Errors while preparing the statement point into it, not into the CALL (as SPI does for its
// own): "QUERY: <statement>" with the position, or a CONTEXT line naming it.
void statement_context(void *arg) {
  const char *sql = (const char *) arg;
  const int position = geterrposition();
  if (position > 0) {
    errposition(0);
    internalerrposition(position);
    internalerrquery(sql);
  } else if (getinternalerrposition() <= 0) {
    errcontext("zd_backfill's batch statement: %s", sql);
  }
}

[[noreturn]] void refuse_clauses(const char *why) {
  ereport(ERROR,
          (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
           errmsg("zd_backfill: set_clause and where_clause must be one SET list and one "
                  "condition of a single UPDATE"),
           errdetail("%s.", why),
           errhint("set_clause is what follows SET (a = 1, b = a * 2); where_clause is one "
                   "boolean expression (b IS NULL). Put any further condition inside "
                   "where_clause with AND.")));
  pg_unreachable();
}

// One condition the builder puts before where_clause: "<column> OPERATOR(pg_catalog.<op>) $n".
struct Bound {
  const char *column;
  const char *op;
};

bool is_bound(Node *node, Bound bound, int param) {
  if (!IsA(node, A_Expr)) return false;
  A_Expr *e = (A_Expr *) node;
  if (e->kind != AEXPR_OP || list_length(e->name) != 2 ||
      strcmp(strVal(linitial(e->name)), "pg_catalog") != 0 ||
      strcmp(strVal(lsecond(e->name)), bound.op) != 0)
    return false;
  if (!IsA(e->lexpr, ColumnRef) || list_length(((ColumnRef *) e->lexpr)->fields) != 1) return false;
  Node *field = (Node *) linitial(((ColumnRef *) e->lexpr)->fields);
  if (!IsA(field, String) || strcmp(strVal(field), bound.column) != 0) return false;
  return e->rexpr != nullptr && IsA(e->rexpr, ParamRef) && ((ParamRef *) e->rexpr)->number == param;
}

// The parse tree must be exactly the UPDATE the builder meant: one statement, no FROM, no WITH,
// a WHERE whose top level is AND(<first> $1, <second> $2, ...), so that whatever the clauses
// contain, only the rows those two conditions select can be touched, and `returning` entries
// in RETURNING (the builder's, none in a pass's UPDATE).
void check_update_shape(const char *sql, Bound first, Bound second, int returning) {
  List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
  if (list_length(raw) != 1) refuse_clauses("They make more than one statement");
  Node *stmt = linitial_node(RawStmt, raw)->stmt;
  if (!IsA(stmt, UpdateStmt)) refuse_clauses("They do not make an UPDATE");
  UpdateStmt *update = (UpdateStmt *) stmt;
  if (update->fromClause != NIL) refuse_clauses("They add a FROM list");
  if (ZD_RETURNING_LENGTH(update) != returning)
    refuse_clauses("They add a RETURNING list");
  if (update->withClause != nullptr) refuse_clauses("They add a WITH clause");
  Node *where = update->whereClause;
  if (where == nullptr || !IsA(where, BoolExpr) || ((BoolExpr *) where)->boolop != AND_EXPR ||
      list_length(((BoolExpr *) where)->args) < 3 ||
      !is_bound((Node *) linitial(((BoolExpr *) where)->args), first, 1) ||
      !is_bound((Node *) lsecond(((BoolExpr *) where)->args), second, 2))
    refuse_clauses("where_clause is not a single condition joined to the batch's range with "
                   "AND (an unbalanced parenthesis or a comment escapes it)");
}

// A batch's block range: ctid >= $1 AND ctid < $2.
void check_range_update_shape(const char *sql) {
  check_update_shape(sql, {"ctid", ">="}, {"ctid", "<"}, 0);
}

// One row version: ctid = $1 AND xmin = $2, returning where_clause on the new version.
void check_row_update_shape(const char *sql) {
  check_update_shape(sql, {"ctid", "="}, {"xmin", "="}, 1);
}

// The read of rows still matching must be one plain SELECT with its LIMIT parameter.  The
// clauses already passed check_range_update_shape; this only guards the text built around them.
void check_find_shape(const char *sql) {
  List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
  Node *stmt = list_length(raw) == 1 ? linitial_node(RawStmt, raw)->stmt : nullptr;
  SelectStmt *select = stmt != nullptr && IsA(stmt, SelectStmt) ? (SelectStmt *) stmt : nullptr;
  if (select == nullptr || select->op != SETOP_NONE || select->withClause != nullptr ||
      select->lockingClause != NIL || select->limitCount == nullptr ||
      !IsA(select->limitCount, ParamRef))
    refuse_clauses("where_clause does not stay one condition of a SELECT");
}

// The executor's privilege check of the statement.  Beyond what the plain UPDATE needs, the
// batches read the row versions' ctid and xmin: a role with column privileges only needs
// SELECT on those two system columns too, and is told so.
void check_privileges(const Query *query) {
  if (compat::check_query_permissions(query, false)) return;
  ListCell *lc;
  foreach (lc, compat::permission_entries(query)) {
    compat::RelPermissions *entry =
        (compat::RelPermissions *) copyObjectImpl((compat::RelPermissions *) lfirst(lc));
    entry->selectedCols = bms_del_member(
        bms_del_member(entry->selectedCols,
                       SelfItemPointerAttributeNumber - FirstLowInvalidHeapAttributeNumber),
        MinTransactionIdAttributeNumber - FirstLowInvalidHeapAttributeNumber);
    if (compat::check_permission_entry(entry)) continue;
    // the plain UPDATE is refused too: its own error
    (void) compat::check_query_permissions(query, true);
  }
  RangeTblEntry *target = linitial_node(RangeTblEntry, query->rtable);
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(target->relid));
  const Oid owner = HeapTupleIsValid(tuple) ? ((Form_pg_class) GETSTRUCT(tuple))->relowner
                                            : BOOTSTRAP_SUPERUSERID;
  if (HeapTupleIsValid(tuple)) ReleaseSysCache(tuple);
  const char *table = quote_qualified_identifier(
      get_namespace_name(get_rel_namespace(target->relid)), get_rel_name(target->relid));
  ereport(ERROR,
          (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
           errmsg("zd_backfill: permission denied for the system columns ctid and xmin of %s",
                  table),
           errdetail("zd_backfill addresses rows by their version (ctid and xmin) to update each "
                     "batch and to find rows moved meanwhile; the role has column privileges "
                     "enough for the plain UPDATE, not SELECT on those two columns."),
           errhint("The table's owner (%s) can grant them: GRANT SELECT (ctid, xmin) ON %s TO "
                   "%s;",
                   quote_identifier(GetUserNameFromId(owner, false)),
                   table, quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

// Parses sql with `check`, prepares it (in SPI's context, not kept yet), and checks the caller's privileges
// for it as the executor will, so that a role without UPDATE (or SELECT on a column the
// clauses read) is refused before anything runs.  Errors point into sql.
SPIPlanPtr prepare_checked(const char *sql, void (*check)(const char *), int nargs, Oid *types) {
  ErrorContextCallback callback;
  callback.callback = statement_context;
  callback.arg = (void *) sql;
  callback.previous = error_context_stack;
  error_context_stack = &callback;

  check(sql);
  SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
  if (plan == nullptr)
    elog(ERROR, "zd_backfill: preparing %s failed: %s", sql, SPI_result_code_string(SPI_result));
  ListCell *lc;
  foreach (lc, SPI_plan_get_plan_sources(plan)) {
    CachedPlanSource *source = (CachedPlanSource *) lfirst(lc);
    ListCell *q;
    foreach (q, source->query_list) check_privileges(lfirst_node(Query, q));
  }
  error_context_stack = callback.previous;
  return plan;
}

int compare_rows(const void *a, const void *b) {
  return ItemPointerCompare(&((RowVersion *) a)->tid, &((RowVersion *) b)->tid);
}

}  // namespace

Statements prepare_statements(const Args *args) {
  // A newline before each closing parenthesis: a "--" comment in where_clause ends there.
  Oid range_types[2] = {TIDOID, TIDOID};
  SPIPlanPtr update = prepare_checked(
      psprintf("UPDATE ONLY %s SET %s\nWHERE ctid OPERATOR(pg_catalog.>=) $1 AND "
               "ctid OPERATOR(pg_catalog.<) $2 AND (%s\n)",
               args->relation, args->set_clause, args->where_clause),
      check_range_update_shape, 2, range_types);
  Oid row_types[2] = {TIDOID, XIDOID};
  SPIPlanPtr update_row = prepare_checked(
      psprintf("UPDATE ONLY %s SET %s\nWHERE ctid OPERATOR(pg_catalog.=) $1 AND "
               "xmin OPERATOR(pg_catalog.=) $2 AND (%s\n) RETURNING (%s\n)",
               args->relation, args->set_clause, args->where_clause, args->where_clause),
      check_row_update_shape, 2, row_types);
  Oid limit_type[1] = {INT8OID};
  SPIPlanPtr find = prepare_checked(
      psprintf("SELECT ctid, xmin FROM ONLY %s WHERE (%s\n) LIMIT $1", args->relation,
               args->where_clause),
      check_find_shape, 1, limit_type);
  // Kept only once all are prepared: an error in one leaves nothing behind.
  if (SPI_keepplan(update) != 0 || SPI_keepplan(update_row) != 0 || SPI_keepplan(find) != 0)
    elog(ERROR, "zd_backfill: could not keep its statements");
  return {update, update_row, find};
}

void free_statements(Statements s) {
  if (s.update != nullptr) SPI_freeplan(s.update);
  if (s.update_row != nullptr) SPI_freeplan(s.update_row);
  if (s.find != nullptr) SPI_freeplan(s.find);
}

MatchingRows find_matching(SPIPlanPtr find, int64 limit) {
  Datum values[1] = {Int64GetDatum(limit)};
  // Not read-only: the read takes a snapshot of its own, after everything committed so far.
  int rc = SPI_execute_plan(find, values, nullptr, false, 0);
  if (rc != SPI_OK_SELECT)
    elog(ERROR, "zd_backfill: the read of rows still to do returned %s",
         SPI_result_code_string(rc));
  MatchingRows m{nullptr, (int64) SPI_processed};
  if (m.count == 0) return m;
  m.rows = (RowVersion *) palloc(sizeof(RowVersion) * m.count);
  for (uint64 i = 0; i < SPI_processed; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[i];
    Datum tid = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull);
    m.rows[i].tid = *(ItemPointer) DatumGetPointer(tid);
    m.rows[i].xmin = DatumGetTransactionId(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
  }
  SPI_freetuptable(SPI_tuptable);
  qsort(m.rows, m.count, sizeof(RowVersion), compare_rows);
  return m;
}

uint64 run_update(SPIPlanPtr plan, BlockNumber first, BlockNumber end) {
  ItemPointerData from, to;
  ItemPointerSet(&from, first, 0);
  ItemPointerSet(&to, end, 0);
  Datum values[2] = {PointerGetDatum(&from), PointerGetDatum(&to)};
  int rc = SPI_execute_plan(plan, values, nullptr, false, 0);
  if (rc != SPI_OK_UPDATE)
    elog(ERROR, "zd_backfill: the batch statement returned %s", SPI_result_code_string(rc));
  return SPI_processed;
}

RowUpdate run_update_row(SPIPlanPtr update_row, const RowVersion *row) {
  Datum values[2] = {PointerGetDatum(&row->tid), TransactionIdGetDatum(row->xmin)};
  int rc = SPI_execute_plan(update_row, values, nullptr, false, 0);
  if (rc != SPI_OK_UPDATE_RETURNING)
    elog(ERROR, "zd_backfill: the row statement returned %s", SPI_result_code_string(rc));
  if (SPI_processed == 0) return RowUpdate::kGone;
  bool isnull;
  Datum matches = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  SPI_freetuptable(SPI_tuptable);
  return !isnull && DatumGetBool(matches) ? RowUpdate::kStillMatches : RowUpdate::kDone;
}

}  // namespace zd::pg::backfill
