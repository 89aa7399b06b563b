#include "pg/check_do_block.hpp"

extern "C" {
#include "parser/parser.h"
#include "plpgsql.h"
}

namespace zd::pg {
namespace {

using CompileInline = PLpgSQL_function *(*) (char *);

void add_item(List **items, DoBlockItem::Kind kind, const char *sql, int line) {
  DoBlockItem *item = (DoBlockItem *) palloc(sizeof(DoBlockItem));
  *item = DoBlockItem{kind, sql, line};
  *items = lappend(*items, item);
}

// EXECUTE 'one literal string': known before it runs (several statements in it are allowed).
const char *constant_string(const PLpgSQL_expr *expr) {
  List *parsed = raw_parser(expr->query, RAW_PARSE_PLPGSQL_EXPR);
  if (list_length(parsed) != 1) return nullptr;
  const Node *select = linitial_node(RawStmt, parsed)->stmt;
  if (!IsA(select, SelectStmt)) return nullptr;
  const SelectStmt *s = (const SelectStmt *) select;
  if (list_length(s->targetList) != 1 || s->fromClause != NIL || s->whereClause != nullptr)
    return nullptr;
  const Node *value = linitial_node(ResTarget, s->targetList)->val;
  if (IsA(value, TypeCast)) value = ((const TypeCast *) value)->arg;
  if (!IsA(value, A_Const) || ((const A_Const *) value)->isnull) return nullptr;
  const A_Const *c = (const A_Const *) value;
  return IsA(&c->val, String) ? strVal((Node *) &c->val) : nullptr;
}

void walk(List *stmts, List **items);

void walk_one(const PLpgSQL_stmt *stmt, List **items) {
  ListCell *lc;
  switch (stmt->cmd_type) {
    case PLPGSQL_STMT_BLOCK: {
      const PLpgSQL_stmt_block *b = (const PLpgSQL_stmt_block *) stmt;
      walk(b->body, items);
      if (b->exceptions != nullptr)
        foreach (lc, b->exceptions->exc_list)
          walk(((PLpgSQL_exception *) lfirst(lc))->action, items);
      break;
    }
    case PLPGSQL_STMT_IF: {
      const PLpgSQL_stmt_if *s = (const PLpgSQL_stmt_if *) stmt;
      walk(s->then_body, items);
      foreach (lc, s->elsif_list) walk(((PLpgSQL_if_elsif *) lfirst(lc))->stmts, items);
      walk(s->else_body, items);
      break;
    }
    case PLPGSQL_STMT_CASE: {
      const PLpgSQL_stmt_case *s = (const PLpgSQL_stmt_case *) stmt;
      foreach (lc, s->case_when_list) walk(((PLpgSQL_case_when *) lfirst(lc))->stmts, items);
      walk(s->else_stmts, items);
      break;
    }
    case PLPGSQL_STMT_LOOP: walk(((const PLpgSQL_stmt_loop *) stmt)->body, items); break;
    case PLPGSQL_STMT_WHILE: walk(((const PLpgSQL_stmt_while *) stmt)->body, items); break;
    case PLPGSQL_STMT_FORI: walk(((const PLpgSQL_stmt_fori *) stmt)->body, items); break;
    case PLPGSQL_STMT_FORS:
    case PLPGSQL_STMT_FORC:
    case PLPGSQL_STMT_DYNFORS: walk(((const PLpgSQL_stmt_forq *) stmt)->body, items); break;
    case PLPGSQL_STMT_FOREACH_A: walk(((const PLpgSQL_stmt_foreach_a *) stmt)->body, items); break;
    case PLPGSQL_STMT_EXECSQL:
      add_item(items, DoBlockItem::Sql, ((const PLpgSQL_stmt_execsql *) stmt)->sqlstmt->query,
               stmt->lineno);
      break;
    case PLPGSQL_STMT_DYNEXECUTE: {
      const PLpgSQL_expr *query = ((const PLpgSQL_stmt_dynexecute *) stmt)->query;
      const char *known = constant_string(query);
      add_item(items, known != nullptr ? DoBlockItem::Sql : DoBlockItem::Dynamic,
               known != nullptr ? known : query->query, stmt->lineno);
      break;
    }
    case PLPGSQL_STMT_COMMIT: add_item(items, DoBlockItem::Commit, "COMMIT", stmt->lineno); break;
    case PLPGSQL_STMT_ROLLBACK:
      add_item(items, DoBlockItem::Rollback, "ROLLBACK", stmt->lineno);
      break;
    default: break;  // assignments, RAISE, RETURN, queries that return rows ...
  }
}

void walk(List *stmts, List **items) {
  ListCell *lc;
  foreach (lc, stmts) walk_one((const PLpgSQL_stmt *) lfirst(lc), items);
}

}  // namespace

List *do_block_items(const DoStmt *stmt, const char **why) {
  const char *body = nullptr, *language = "plpgsql";
  ListCell *lc;
  foreach (lc, stmt->args) {
    const DefElem *arg = lfirst_node(DefElem, lc);
    if (strcmp(arg->defname, "as") == 0) body = strVal(arg->arg);
    if (strcmp(arg->defname, "language") == 0) language = strVal(arg->arg);
  }
  if (strcmp(language, "plpgsql") != 0) {
    *why = psprintf("a DO block in language %s: zd_check reads PL/pgSQL blocks only", language);
    return nullptr;
  }
  if (body == nullptr) {
    *why = "a DO block without a body";
    return nullptr;
  }
  // PL/pgSQL's compiler parses the block (and, with check_function_bodies, the syntax of its
  // SQL); nothing is executed or planned.
  CompileInline compile = (CompileInline) load_external_function(
      "$libdir/plpgsql", "plpgsql_compile_inline", false, nullptr);
  if (compile == nullptr) {
    // PostgreSQL 16 and later build PL/pgSQL with hidden symbols and do not export this one.
    *why = "PL/pgSQL's compiler of DO blocks (plpgsql_compile_inline) cannot be loaded "
           "(PostgreSQL 16 and later do not export it)";
    return nullptr;
  }
  PLpgSQL_function *function = compile(pstrdup(body));
  List *items = NIL;
  walk_one((const PLpgSQL_stmt *) function->action, &items);
  return items;
}

}  // namespace zd::pg
