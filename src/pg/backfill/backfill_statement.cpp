// The two statements zd_backfill runs, built from the caller's clauses and prepared once: the
// UPDATE of every batch, checked to be exactly one UPDATE of the table restricted to the
// batch's TID range, and the read that looks for rows still matching where_clause.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "catalog/pg_type.h"
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

pg_attribute_noreturn() void refuse_clauses(const char *why) {
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

// "ctid OPERATOR(pg_catalog.<op>) $<param>", as the builder wrote it.
bool is_range_bound(Node *node, const char *op, int param) {
  if (!IsA(node, A_Expr)) return false;
  A_Expr *e = (A_Expr *) node;
  if (e->kind != AEXPR_OP || list_length(e->name) != 2 ||
      strcmp(strVal(linitial(e->name)), "pg_catalog") != 0 ||
      strcmp(strVal(lsecond(e->name)), op) != 0)
    return false;
  if (!IsA(e->lexpr, ColumnRef) || list_length(((ColumnRef *) e->lexpr)->fields) != 1) return false;
  Node *field = (Node *) linitial(((ColumnRef *) e->lexpr)->fields);
  if (!IsA(field, String) || strcmp(strVal(field), "ctid") != 0) return false;
  return e->rexpr != nullptr && IsA(e->rexpr, ParamRef) && ((ParamRef *) e->rexpr)->number == param;
}

// The parse tree must be exactly the UPDATE the builder meant: one statement, no FROM, no
// RETURNING, no WITH, and a WHERE whose top level is AND(ctid >= $1, ctid < $2, ...), so that
// whatever the clauses contain, only the batch's rows can be touched.
void check_update_shape(const char *sql) {
  List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
  if (list_length(raw) != 1) refuse_clauses("They make more than one statement");
  Node *stmt = linitial_node(RawStmt, raw)->stmt;
  if (!IsA(stmt, UpdateStmt)) refuse_clauses("They do not make an UPDATE");
  UpdateStmt *update = (UpdateStmt *) stmt;
  if (update->fromClause != NIL) refuse_clauses("They add a FROM list");
  if (update->returningList != NIL) refuse_clauses("They add a RETURNING list");
  if (update->withClause != nullptr) refuse_clauses("They add a WITH clause");
  Node *where = update->whereClause;
  if (where == nullptr || !IsA(where, BoolExpr) || ((BoolExpr *) where)->boolop != AND_EXPR ||
      list_length(((BoolExpr *) where)->args) < 3 ||
      !is_range_bound((Node *) linitial(((BoolExpr *) where)->args), ">=", 1) ||
      !is_range_bound((Node *) lsecond(((BoolExpr *) where)->args), "<", 2))
    refuse_clauses("where_clause is not a single condition joined to the batch's range with "
                   "AND (an unbalanced parenthesis or a comment escapes it)");
}

// The read of rows still matching must be one plain SELECT with its LIMIT parameter.  The
// clauses already passed check_update_shape; this only guards the text built around them.
void check_find_shape(const char *sql) {
  List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
  Node *stmt = list_length(raw) == 1 ? linitial_node(RawStmt, raw)->stmt : nullptr;
  SelectStmt *select = stmt != nullptr && IsA(stmt, SelectStmt) ? (SelectStmt *) stmt : nullptr;
  if (select == nullptr || select->op != SETOP_NONE || select->withClause != nullptr ||
      select->lockingClause != NIL || select->limitCount == nullptr ||
      !IsA(select->limitCount, ParamRef))
    refuse_clauses("where_clause does not stay one condition of a SELECT");
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
    foreach (q, source->query_list) (void) ExecCheckRTPerms(lfirst_node(Query, q)->rtable, true);
  }
  error_context_stack = callback.previous;
  return plan;
}

int compare_blocks(const void *a, const void *b) {
  const BlockNumber x = *(const BlockNumber *) a, y = *(const BlockNumber *) b;
  return x < y ? -1 : x > y ? 1 : 0;
}

}  // namespace

Statements prepare_statements(const Args *args) {
  // A newline before each closing parenthesis: a "--" comment in where_clause ends there.
  Oid range_types[2] = {TIDOID, TIDOID};
  SPIPlanPtr update = prepare_checked(
      psprintf("UPDATE ONLY %s SET %s\nWHERE ctid OPERATOR(pg_catalog.>=) $1 AND "
               "ctid OPERATOR(pg_catalog.<) $2 AND (%s\n)",
               args->relation, args->set_clause, args->where_clause),
      check_update_shape, 2, range_types);
  Oid limit_type[1] = {INT8OID};
  SPIPlanPtr find = prepare_checked(
      psprintf("SELECT ctid FROM ONLY %s WHERE (%s\n) LIMIT $1", args->relation,
               args->where_clause),
      check_find_shape, 1, limit_type);
  // Kept only once both are prepared: an error in the second leaves nothing behind.
  if (SPI_keepplan(update) != 0 || SPI_keepplan(find) != 0)
    elog(ERROR, "zd_backfill: could not keep its statements");
  return {update, find};
}

void free_statements(Statements s) {
  if (s.update != nullptr) SPI_freeplan(s.update);
  if (s.find != nullptr) SPI_freeplan(s.find);
}

MatchingRows find_matching(SPIPlanPtr find, int64 limit) {
  Datum values[1] = {Int64GetDatum(limit)};
  // Not read-only: the read takes a snapshot of its own, after everything committed so far.
  int rc = SPI_execute_plan(find, values, nullptr, false, 0);
  if (rc != SPI_OK_SELECT)
    elog(ERROR, "zd_backfill: the read of rows still to do returned %s",
         SPI_result_code_string(rc));
  MatchingRows m{(int64) SPI_processed, nullptr, 0};
  if (m.rows == 0) return m;
  m.blocks = (BlockNumber *) palloc(sizeof(BlockNumber) * m.rows);
  for (uint64 i = 0; i < SPI_processed; i++) {
    bool isnull;
    Datum tid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
    m.blocks[i] = ItemPointerGetBlockNumber((ItemPointer) DatumGetPointer(tid));
  }
  SPI_freetuptable(SPI_tuptable);
  qsort(m.blocks, m.rows, sizeof(BlockNumber), compare_blocks);
  for (int64 i = 0; i < m.rows; i++)
    if (m.count == 0 || m.blocks[m.count - 1] != m.blocks[i]) m.blocks[m.count++] = m.blocks[i];
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

}  // namespace zd::pg::backfill
