// The one UPDATE zd_backfill runs per batch: built from the caller's clauses, checked to be
// exactly one UPDATE of the table restricted to the batch's TID range, prepared once.
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
void check_shape(const char *sql) {
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

}  // namespace

SPIPlanPtr prepare_update(const Args *args) {
  // A newline before the closing parenthesis: a "--" comment in where_clause ends there.
  const char *sql = psprintf(
      "UPDATE ONLY %s SET %s\nWHERE ctid OPERATOR(pg_catalog.>=) $1 AND "
      "ctid OPERATOR(pg_catalog.<) $2 AND (%s\n)",
      args->relation, args->set_clause, args->where_clause);
  ErrorContextCallback callback;
  callback.callback = statement_context;
  callback.arg = (void *) sql;
  callback.previous = error_context_stack;
  error_context_stack = &callback;

  check_shape(sql);
  Oid types[2] = {TIDOID, TIDOID};
  SPIPlanPtr plan = SPI_prepare(sql, 2, types);
  if (plan == nullptr)
    elog(ERROR, "zd_backfill: preparing the batch statement failed: %s",
         SPI_result_code_string(SPI_result));
  // The executor checks privileges when a batch starts; check them now, the same way, so a
  // role without UPDATE (or SELECT on a column the clauses read) is refused before anything
  // runs.
  ListCell *lc;
  foreach (lc, SPI_plan_get_plan_sources(plan)) {
    CachedPlanSource *source = (CachedPlanSource *) lfirst(lc);
    ListCell *q;
    foreach (q, source->query_list) (void) ExecCheckRTPerms(lfirst_node(Query, q)->rtable, true);
  }
  if (SPI_keepplan(plan) != 0) elog(ERROR, "zd_backfill: could not keep the batch statement");
  error_context_stack = callback.previous;
  return plan;
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
