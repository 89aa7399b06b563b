// The up and down expressions of a migration.  Parsed once, at expand, as the caller wrote
// them (the caller's search_path), checked (one expression, no subquery, aggregate or set-
// returning function, of a type that converts to the target column's), then stored as text in
// which every name outside pg_catalog is qualified (deparsed with search_path pinned, as
// pg_dump writes view definitions).  The sync trigger parses that text with search_path pinned
// too: a function another role creates later in a schema on someone's search_path never
// replaces the one the migration's author meant, and the text survives a dump and restore
// (an OID would not).
#include "pg/expand/expand.hpp"

#include "pg/trusted_code.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
}

namespace zd::pg::expand {
namespace {

struct Alias {
  const char *name;
  Var *var;
};

// The down expression's bare column name means the new value (the new column).
Node *alias_column(ParseState *pstate, ColumnRef *cref) {
  const Alias *alias = (const Alias *) pstate->p_ref_hook_state;
  if (alias == nullptr || list_length(cref->fields) != 1 || !IsA(linitial(cref->fields), String))
    return nullptr;
  if (strcmp(strVal(linitial(cref->fields)), alias->name) != 0) return nullptr;
  Var *var = (Var *) copyObjectImpl(alias->var);
  var->location = cref->location;
  return (Node *) var;
}

void parse_context(void *arg) {
  errcontext("zero_downtime: parsing %s", (const char *) arg);
}

// One expression of `text`: SELECT (<text>) must be a lone target list of one item.
Node *raw_expression(const char *text, const char *what) {
  ErrorContextCallback callback{error_context_stack, parse_context,
                                (void *) psprintf("%s: %s", what, text)};
  error_context_stack = &callback;
  // A syntax error's position is in our SELECT, not in the caller's statement: dropped.
  MemoryContext context = CurrentMemoryContext;
  List *volatile raw = NIL;
  PG_TRY();
  { raw = raw_parser(psprintf("SELECT (%s)", text), RAW_PARSE_DEFAULT); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    ErrorData *error = CopyErrorData();
    FlushErrorState();
    error->cursorpos = 0;
    ReThrowError(error);
  }
  PG_END_TRY();
  error_context_stack = callback.previous;
  SelectStmt *select = list_length(raw) == 1 && IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt)
                           ? (SelectStmt *) linitial_node(RawStmt, raw)->stmt
                           : nullptr;
  if (select == nullptr || list_length(select->targetList) != 1 || select->fromClause != NIL ||
      select->whereClause != nullptr || select->groupClause != NIL ||
      select->havingClause != nullptr || select->windowClause != NIL ||
      select->sortClause != NIL || select->limitCount != nullptr ||
      select->limitOffset != nullptr || select->lockingClause != NIL ||
      select->withClause != nullptr || select->distinctClause != NIL ||
      select->op != SETOP_NONE)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("zero_downtime: %s must be one expression: %s", what, text),
                    errhint("An expression over the row, such as (price * 100)::bigint.")));
  return ((ResTarget *) linitial(select->targetList))->val;
}

Node *analyse(Relation rel, Node *raw, const char *what, const Alias *alias, AttrNumber target) {
  ParseState *pstate = make_parsestate(nullptr);
  ParseNamespaceItem *nsitem =
      addRangeTableEntryForRelation(pstate, rel, AccessShareLock, nullptr, false, true);
  addNSItemToQuery(pstate, nsitem, true, true, true);
  if (alias != nullptr) {
    pstate->p_pre_columnref_hook = alias_column;
    pstate->p_ref_hook_state = (void *) alias;
  }
  // As a generated column's expression: no subquery, aggregate, window or set-returning
  // function (one value per row, from the row).
  ErrorContextCallback callback{error_context_stack, parse_context, (void *) what};
  error_context_stack = &callback;
  Node *expr = transformExpr(pstate, raw, EXPR_KIND_GENERATED_COLUMN);
  error_context_stack = callback.previous;
  Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), target - 1);
  const Oid from = exprType(expr);
  Node *coerced = coerce_to_target_type(pstate, expr, from, att->atttypid, att->atttypmod,
                                        COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
  if (coerced == nullptr)
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("zero_downtime: %s is of type %s, column %s is of type %s", what,
                           format_type_be(from), quote_identifier(NameStr(att->attname)),
                           format_type_be(att->atttypid)),
                    errhint("Cast it: (%s)::%s.", "...", format_type_with_typemod(
                                                             att->atttypid, att->atttypmod))));
  assign_expr_collations(pstate, coerced);
  free_parsestate(pstate);
  return coerced;
}

}  // namespace

Node *parse_row_expression(Relation rel, const char *text, const char *what, const char *alias,
                           AttrNumber alias_attnum, AttrNumber target) {
  Alias a{alias, nullptr};
  if (alias != nullptr) {
    Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), alias_attnum - 1);
    a.var = makeVar(1, alias_attnum, att->atttypid, att->atttypmod, att->attcollation, 0);
  }
  return analyse(rel, raw_expression(text, what), what, alias ? &a : nullptr, target);
}

int pin_search_path() {
  const int level = NewGUCNestLevel();
  (void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                           GUC_ACTION_SAVE, true, 0, false);
  return level;
}

void restore_search_path(int level) { AtEOXact_GUC(true, level); }

AsOwner enter_as_owner(Oid owner) {
  AsOwner saved;
  GetUserIdAndSecContext(&saved.user, &saved.context);
  SetUserIdAndSecContext(owner, saved.context | SECURITY_LOCAL_USERID_CHANGE |
                                    SECURITY_RESTRICTED_OPERATION);
  saved.guc_level = pin_search_path();
  return saved;
}

void leave_as_owner(const AsOwner &saved) {
  restore_search_path(saved.guc_level);
  SetUserIdAndSecContext(saved.user, saved.context);
}

const char *normalized_sql(Relation rel, Node *expr) {
  const int level = pin_search_path();
  char *text = deparse_expression(
      expr, deparse_context_for(RelationGetRelationName(rel), RelationGetRelid(rel)), false,
      false);
  restore_search_path(level);
  return text;
}

Expr *prepare_normalized(Relation rel, const char *normalized, AttrNumber target,
                         bool *untrusted) {
  const int level = pin_search_path();
  Node *expr = analyse(rel, raw_expression(normalized, "the migration's expression"),
                       "the migration's expression", nullptr, target);
  restore_search_path(level);
  // Planning folds constants: it calls the functions it folds.
  *untrusted = !runs_only_trusted_code(expr);
  if (!*untrusted) return expression_planner((Expr *) expr);
  const AsOwner saved = enter_as_owner(rel->rd_rel->relowner);
  Expr *planned = expression_planner((Expr *) expr);
  leave_as_owner(saved);
  return planned;
}

}  // namespace zd::pg::expand
