#include "pg/dml_hook.hpp"

#include "pg/gather.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/held_locks.hpp"
#include "pg/plan.hpp"
#include "pg/sql_tokens.hpp"
#include "pg/table_facts.hpp"

#include <new>

extern "C" {
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
}

namespace zd::pg {
namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;

// The text between byte offsets [from, to) of sql, without the white space around it.
const char *span(const char *sql, int from, int to) {
  while (from < to && isspace((unsigned char) sql[from])) from++;
  while (to > from && isspace((unsigned char) sql[to - 1])) to--;
  return pnstrdup(sql + from, to - from);
}

// UPDATE t SET <set> [WHERE <where>] and DELETE FROM t [WHERE <where>], as written, for the
// batched form's hint; left empty when FROM / USING / WITH / RETURNING or an alias make it
// something else.
void statement_clauses(const char *sql, zd::Operation *op) {
  List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
  if (list_length(raw) != 1) return;
  Node *stmt = linitial_node(RawStmt, raw)->stmt;
  const bool update = IsA(stmt, UpdateStmt);
  if (update) {
    UpdateStmt *u = (UpdateStmt *) stmt;
    if (u->fromClause != NIL || u->withClause != nullptr || ZD_RETURNING_LENGTH(u) != 0 ||
        u->relation->alias != nullptr)
      return;
  } else if (IsA(stmt, DeleteStmt)) {
    DeleteStmt *d = (DeleteStmt *) stmt;
    if (d->usingClause != NIL || d->withClause != nullptr || ZD_RETURNING_LENGTH(d) != 0 ||
        d->relation->alias != nullptr)
      return;
  } else {
    return;
  }
  SqlToken *tokens;
  const int n = lex_tokens(sql, &tokens);
  int depth = 0, set_end = -1, where_at = -1, set_at = -1;
  for (int i = 0; i < n; i++) {
    if (token_is(sql, tokens[i], "(")) depth++;
    if (token_is(sql, tokens[i], ")")) depth--;
    if (depth != 0) continue;
    if (update && set_at < 0 && token_is(sql, tokens[i], "set")) set_at = tokens[i].end;
    if (where_at < 0 && token_is(sql, tokens[i], "where")) {
      where_at = tokens[i].end;
      set_end = tokens[i].start;
    }
  }
  const int end = (int) strlen(sql);
  if (update && set_at >= 0) op->dml_set_clause = span(sql, set_at, set_end >= 0 ? set_end : end);
  if (where_at >= 0) op->dml_where_clause = span(sql, where_at, end);
  // UPDATE t SET c = <value> over every row: a row is done once c holds that value.
  List *targets = update ? ((UpdateStmt *) stmt)->targetList : NIL;
  if (where_at < 0 && list_length(targets) == 1 &&
      linitial_node(ResTarget, targets)->indirection == NIL) {
    for (int i = 0; i < n; i++) {
      if (tokens[i].start < set_at || !token_is(sql, tokens[i], "=")) continue;
      op->dml_where_clause = psprintf(
          "%s IS DISTINCT FROM (%s)", quote_identifier(linitial_node(ResTarget, targets)->name),
          span(sql, tokens[i].end, set_end >= 0 ? set_end : end));
      break;
    }
  }
}

// The plan reads the whole table `rti` (a sequential scan of it somewhere in the tree).
bool scans_whole_table(const Plan *plan, Index rti) {
  if (plan == nullptr) return false;
  if (IsA(plan, SeqScan) && ((const Scan *) plan)->scanrelid == rti) return true;
  return scans_whole_table(plan->lefttree, rti) || scans_whole_table(plan->righttree, rti);
}

void judge(QueryDesc *query) {
  PlannedStmt *planned = query->plannedstmt;
  if (!ZD_HAS_RESULT_RELATION(planned) || planned->planTree == nullptr) return;
  const Index rti = ZD_FIRST_RESULT_RELATION(planned);
  RangeTblEntry *target = rt_fetch(rti, planned->rtable);
  if (target->rtekind != RTE_RELATION) return;
  const Plan *scan = IsA(planned->planTree, ModifyTable) ? outerPlan(planned->planTree)
                                                         : planned->planTree;
  zd::Operation *op = new (palloc(sizeof(zd::Operation))) zd::Operation();
  op->kind = zd::OpKind::WholeTableDml;
  op->lock = zd::Lock::RowExclusive;
  op->dml_delete = query->operation == CMD_DELETE;
  op->command = op->dml_delete ? "DELETE" : "UPDATE";
  op->dml_rows = scan != nullptr ? scan->plan_rows : 0;
  forget_class_rows();
  fill_table_facts(target->relid, &op->table);
  fill_table_state(target->relid, true, false, false, &op->table);
  // A filter on a column without statistics (one this migration added) is estimated far too
  // selective; a plan that reads every row is judged by the table's rows.
  op->dml_full_scan = scans_whole_table(scan, rti);
  if (op->dml_full_scan) op->dml_rows = Max(op->dml_rows, op->table.estimated_rows);
  const char *text = query->sourceText != nullptr ? query->sourceText : "";
  const int from = Max(planned->stmt_location, 0);
  const char *sql = planned->stmt_len > 0 ? pnstrdup(text + from, planned->stmt_len)
                                          : pstrdup(text + from);
  op->statement_sql = sql;
  if (op->dml_rows >= 1 && !op->table.created_in_transaction) statement_clauses(sql, op);
  zd::StatementFacts *facts = new_statement_facts();
  facts->tx = zd::TxContext::TransactionBlock;
  facts->sql = sql;
  facts->ops = {op, 1};
  GuardPlan *plan = decide_plan(facts);
  if (plan->verdict == zd::Verdict::Refuse) guard_refuse(plan);
  if (plan->verdict == zd::Verdict::Warn) guard_warn(plan);
}

}  // namespace
}  // namespace zd::pg

// C linkage: PostgreSQL calls it.  Nothing here throws (decide_plan crosses the boundary).
extern "C" void zd_executor_start(QueryDesc *query, int eflags) {
  using namespace zd::pg;
  if (guc_mode != kModeOff && (query->operation == CMD_UPDATE || query->operation == CMD_DELETE) &&
      !(eflags & EXEC_FLAG_EXPLAIN_ONLY) && transaction_changed_schema())
    judge(query);
  if (prev_executor_start != nullptr)
    prev_executor_start(query, eflags);
  else
    standard_ExecutorStart(query, eflags);
}

namespace zd::pg {

void install_dml_hook() {
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = zd_executor_start;
}

}  // namespace zd::pg
