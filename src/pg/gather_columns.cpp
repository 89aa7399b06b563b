// Gathering for the ALTER TABLE subcommands on one column: ADD COLUMN (its default, its own
// constraints, serial and domain types), ALTER COLUMN TYPE (whether it rewrites, re-checks
// constraints or rebuilds indexes) and SET NOT NULL (whether a CHECK proves it).  Decided the
// way tablecmds.c decides, from the catalog, never from type names.
#include "pg/gather_internal.hpp"

#include "pg/sql_tokens.hpp"
#include "pg/subtransaction.hpp"
#include "pg/table_facts.hpp"
#include "pg/check_constraints.hpp"
#include "pg/dependencies.hpp"
#include "pg/trusted_code.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/heap.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/dependency.h"
#include "utils/array.h"
#include "utils/relcache.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/tablecmds.h"
#include "commands/tablespace.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_node.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "commands/defrem.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "storage/lmgr.h"
}

namespace zd::pg {
namespace {

// The same test as tablecmds.c's ATColumnChangeRequiresRewrite, on the planned coercion of
// the old column to the new type: only relabelling, unconstrained domains and (with UTC) the
// timestamp <-> timestamptz pair leave the stored bytes as they are.
bool change_requires_rewrite(Node *expr, AttrNumber attnum) {
  for (;;) {
    if (IsA(expr, Var) && ((Var *) expr)->varattno == attnum) return false;
    if (IsA(expr, RelabelType)) {
      expr = (Node *) ((RelabelType *) expr)->arg;
    } else if (IsA(expr, CoerceToDomain)) {
      CoerceToDomain *d = (CoerceToDomain *) expr;
      if (ZD_DOMAIN_HAS_CONSTRAINTS(d->resulttype)) return true;
      expr = (Node *) d->arg;
    } else if (IsA(expr, FuncExpr)) {
      FuncExpr *f = (FuncExpr *) expr;
      if ((f->funcid == F_TIMESTAMPTZ_TIMESTAMP || f->funcid == F_TIMESTAMP_TIMESTAMPTZ) &&
          !TimestampTimestampTzRequiresRewrite())
        expr = (Node *) linitial(f->args);
      else
        return true;
    } else {
      return true;
    }
  }
}

bool is_serial(const TypeName *type) {
  if (list_length(type->names) != 1 || type->pct_type) return false;
  const char *name = strVal(linitial(type->names));
  return strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0 ||
         strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0 ||
         strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0;
}

Oid serial_base_type(const TypeName *type) {
  const char *name = strVal(linitial(type->names));
  if (strncmp(name, "small", 5) == 0 || strcmp(name, "serial2") == 0) return INT2OID;
  if (strncmp(name, "big", 3) == 0 || strcmp(name, "serial8") == 0) return INT8OID;
  return INT4OID;
}

struct DefaultGathering {
  zd::Operation *op;
  Node *raw_default;
  Oid type;
  int32 typmod;
  const char *column;
};

// Analyses the default as ALTER TABLE will; an invalid default is PostgreSQL's to report.
void cook_default(void *arg) {
  DefaultGathering *d = (DefaultGathering *) arg;
  Node *cooked = cookDefault(make_parsestate(nullptr), d->raw_default, d->type, d->typmod,
                             d->column, '\0');
  d->op->default_volatile = contain_volatile_functions(cooked);
  d->op->default_sql = deparse_expression(cooked, NIL, false, false);
}

// ADD COLUMN c ... CHECK / UNIQUE / REFERENCES ...: the constraint as a table constraint, its
// name, and the statement without it (the safe form adds the column, then the constraint).
void gather_inline_constraint(Gathering *g, zd::Operation *op, Oid relid, ColumnDef *def) {
  using Inline = zd::Operation::InlineConstraint;
  Constraint *found = nullptr;
  ListCell *lc;
  foreach (lc, def->constraints) {
    Constraint *c = lfirst_node(Constraint, lc);
    if (c->contype == CONSTR_CHECK || c->contype == CONSTR_UNIQUE || c->contype == CONSTR_FOREIGN) {
      found = c;
      break;
    }
  }
  if (found == nullptr || found->location < 0) return;
  // Its text runs to the next of the column's constraints, or to the end of the subcommand.
  const int start = statement_offset(g, found->location);
  int end = offset_of_list_item_end(g->sql, start);
  foreach (lc, def->constraints) {
    const int at = statement_offset(g, lfirst_node(Constraint, lc)->location);
    if (at > start && at < end) end = at;
  }
  while (end > start && isspace((unsigned char) g->sql[end - 1])) end--;
  if (start < 0 || end <= start) return;
  SqlToken *tokens;
  const char *text = pnstrdup(g->sql + start, end - start);
  int n = lex_tokens(text, &tokens), body = 0;
  if (n > 2 && token_is(text, tokens[0], "constraint")) body = tokens[2].start;  // its own name
  const char *column = quote_identifier(def->colname);
  const char *relname = get_rel_name(relid);
  const Oid nsp = get_rel_namespace(relid);
  const char *name = found->conname;
  switch (found->contype) {
    case CONSTR_CHECK:
      op->inline_constraint = Inline::Check;
      op->inline_constraint_sql = text + body;
      if (name == nullptr) name = ChooseConstraintName(relname, def->colname, "check", nsp, NIL);
      break;
    case CONSTR_FOREIGN:
      op->inline_constraint = Inline::ForeignKey;
      op->inline_constraint_sql = psprintf("FOREIGN KEY (%s) %s", column, text + body);
      if (name == nullptr) name = ChooseConstraintName(relname, def->colname, "fkey", nsp, NIL);
      break;
    default:
      if (n - (body ? 2 : 0) != 1) return;  // UNIQUE with options: not rebuilt here
      op->inline_constraint = Inline::Unique;
      op->inline_constraint_sql = psprintf("UNIQUE (%s)", column);
      if (name == nullptr) name = ChooseRelationName(relname, def->colname, "key", nsp, true);
      break;
  }
  op->inline_constraint_name = quote_identifier(name);
  int before = start;
  while (before > 0 && isspace((unsigned char) g->sql[before - 1])) before--;
  op->add_column_sql = psprintf("%.*s%s", before, g->sql, g->sql + end);
}

struct TypeChangeGathering {
  zd::Operation *op;
  AttrNumber attnum;
  Oid old_type;
  int32 old_typmod;
  Oid collation;
  Oid new_type;
  int32 new_typmod;
  ColumnDef *def;
  Oid new_collation;  // set by plan_type_change
  // USING the column itself cast to this type (InvalidOid: no such cast; see
  // using_the_column), applied as the explicit cast it is before the assignment coercion.
  Oid using_cast_type = InvalidOid;
  int32 using_cast_typmod = -1;
};

// A palloc'd list of C strings as a span of texts.
Span<const zd::Text> texts(List *strings) {
  zd::Text *out = (zd::Text *) palloc0(sizeof(zd::Text) * (list_length(strings) + 1));
  int n = 0;
  ListCell *lc;
  foreach (lc, strings) out[n++] = (const char *) lfirst(lc);
  return {out, (size_t) n};
}

// Whether a USING expression is `column` or `column::type` (one cast, the column unqualified);
// the cast's type, if any, in *cast_type (else InvalidOid).
bool using_the_column(Node *expr, const char *column, Oid *cast_type, int32 *cast_typmod) {
  *cast_type = InvalidOid;
  if (IsA(expr, TypeCast)) {
    const TypeCast *cast = (const TypeCast *) expr;
    Type type = LookupTypeName(nullptr, cast->typeName, cast_typmod, true);
    if (type == nullptr) return false;
    *cast_type = typeTypeId(type);
    ReleaseSysCache(type);
    expr = cast->arg;
  }
  if (!IsA(expr, ColumnRef) || list_length(((ColumnRef *) expr)->fields) != 1) return false;
  Node *field = (Node *) linitial(((ColumnRef *) expr)->fields);
  return IsA(field, String) && strcmp(strVal(field), column) == 0;
}

// Plans the coercion ALTER TYPE will apply, and tests it as tablecmds.c does.
void plan_type_change(void *arg) {
  TypeChangeGathering *t = (TypeChangeGathering *) arg;
  Node *transform =
      (Node *) makeVar(1, t->attnum, t->old_type, t->old_typmod, t->collation, 0);
  Oid from_type = t->old_type;
  if (OidIsValid(t->using_cast_type)) {  // as transformTypeCast plans `column::type`
    transform = coerce_to_target_type(make_parsestate(nullptr), transform, t->old_type,
                                      t->using_cast_type, t->using_cast_typmod,
                                      COERCION_EXPLICIT, COERCE_EXPLICIT_CAST, -1);
    if (transform == nullptr) return;  // no cast: PostgreSQL reports it
    from_type = t->using_cast_type;
  }
  transform = coerce_to_target_type(make_parsestate(nullptr), transform, from_type,
                                    t->new_type, t->new_typmod, COERCION_ASSIGNMENT,
                                    COERCE_IMPLICIT_CAST, -1);
  if (transform == nullptr) return;  // no cast: PostgreSQL reports it
  // Planning folds what it can, calling the cast's functions: only trusted ones
  // (trusted_code.hpp).  Otherwise the coercion is taken as it is: a function call, a rewrite.
  if (!runs_only_trusted_code(transform)) {
    t->op->type_change_rewrites = true;
    return;
  }
  transform = (Node *) expression_planner((Expr *) transform);
  t->op->type_change_rewrites = change_requires_rewrite(transform, t->attnum);
  t->new_collation = GetColumnDefCollation(nullptr, t->def, t->new_type);
}

// Without a rewrite, ALTER TYPE still re-adds (and checks on every row) each CHECK constraint
// on the column (ATPostAlterTypeCleanup), and a new collation rebuilds the column's indexes.
void gather_type_change_side_effects(zd::Operation *op, Oid relid, AttrNumber attnum,
                                     bool collation_changes) {
  List *names = NIL, *defs = NIL;
  ListCell *lc;
  foreach (lc, valid_check_constraints(relid)) {
    const CheckConstraint *c = (const CheckConstraint *) lfirst(lc);
    if (!list_member_int(c->columns, attnum)) continue;
    names = lappend(names, (void *) quote_identifier(c->name));
    defs = lappend(defs, TextDatumGetCString(
                             DirectFunctionCall1(pg_get_constraintdef, ObjectIdGetDatum(c->oid))));
  }
  op->rechecked_names = texts(names);
  op->rechecked_defs = texts(defs);
  if (!collation_changes) return;
  // The indexes on the column: pg_depend, as ATExecAlterColumnType finds them.
  List *index_names = NIL, *index_defs = NIL;
  foreach (lc, dependents_of(ObjectAddress{RelationRelationId, relid, (int32) attnum})) {
    const ObjectAddress *d = (const ObjectAddress *) lfirst(lc);
    if (d->classId != RelationRelationId || get_rel_relkind(d->objectId) != RELKIND_INDEX) continue;
    op->rebuilt_constraint_index =
        op->rebuilt_constraint_index || OidIsValid(get_index_constraint(d->objectId));
    index_names = lappend(index_names, (void *) qualified_relation_name(d->objectId));
    index_defs = lappend(index_defs, pg_get_indexdef_string(d->objectId));
  }
  op->rebuilt_index_names = texts(index_names);
  op->rebuilt_index_defs = texts(index_defs);
}

bool names_include(List *names, const char *name) {
  ListCell *lc;
  foreach (lc, names)
    if (strcmp((const char *) lfirst(lc), name) == 0) return true;
  return false;
}

}  // namespace

// A valid CHECK constraint on the table implies `attnum IS NOT NULL` (then SET NOT NULL skips
// its scan): PostgreSQL's NotNullImpliedByRelConstraints, with the same predicate prover.  A
// constraint is folded (its constants evaluated) as PostgreSQL does only when it calls nothing
// but trusted code (trusted_code.hpp); else it is proved from as it stands, which can only
// prove less.
bool not_null_implied_by_checks(Oid relid, AttrNumber attnum, List *ignored) {
  Oid typid;
  int32 typmod;
  Oid collation;
  get_atttypetypmodcoll(relid, attnum, &typid, &typmod, &collation);
  NullTest *test = makeNode(NullTest);
  test->arg = (Expr *) makeVar(1, attnum, typid, typmod, collation, 0);
  test->nulltesttype = IS_NOT_NULL;
  test->argisrow = false;
  test->location = -1;

  List *checks = NIL;
  ListCell *lc;
  foreach (lc, valid_check_constraints(relid)) {
    const CheckConstraint *c = (const CheckConstraint *) lfirst(lc);
    if (names_include(ignored, c->name)) continue;
    Node *expr = c->expr;
    if (runs_only_trusted_code(expr)) expr = eval_const_expressions(nullptr, expr);
    expr = (Node *) canonicalize_qual((Expr *) expr, true);
    checks = list_concat(checks, make_ands_implicit((Expr *) expr));
  }
  // Weak implication, as PostgreSQL uses: a CHECK constraint also passes when it yields NULL.
  return checks != NIL && predicate_implied_by(list_make1(test), checks, true);
}

void gather_add_column(Gathering *g, zd::Operation *op, Oid relid, ColumnDef *def) {
  gather_inline_constraint(g, op, relid, def);
  op->column = quote_identifier(def->colname);
  Oid typid;
  int32 typmod = -1;
  if (is_serial(def->typeName)) {
    typid = serial_base_type(def->typeName);
    op->identity = true;
  } else {
    Type type = LookupTypeName(nullptr, def->typeName, &typmod, true);
    if (type == nullptr) return;  // PostgreSQL reports the unknown type
    typid = typeTypeId(type);
    ReleaseSysCache(type);
  }
  op->column_type = format_type_with_typemod(typid, typmod);
  int32 base_typmod = typmod;
  Oid base = getBaseTypeAndTypmod(typid, &base_typmod);
  op->column_base_type = format_type_with_typemod(base, base_typmod);

  Node *raw_default = nullptr;
  bool generated = false;  // stored or (18+) virtual: no default of any kind applies
  ListCell *lc;
  foreach (lc, def->constraints) {
    Constraint *c = lfirst_node(Constraint, lc);
    if (c->contype == CONSTR_DEFAULT) raw_default = c->raw_expr;
    if (c->contype == CONSTR_NOTNULL || c->contype == CONSTR_PRIMARY) op->not_null = true;
    if (c->contype == CONSTR_IDENTITY) op->identity = true;
    // (A raw expression cannot be deparsed before it is analysed; the hint names it instead.)
    if (c->contype == CONSTR_GENERATED) {
      op->generated_stored = ZD_GENERATED_STORED(c);
      generated = true;
    }
  }
  // Like ATExecAddColumn: a domain with constraints must be checked on every row.
  op->domain_checked = ZD_DOMAIN_HAS_CONSTRAINTS(typid);
  if (raw_default != nullptr && !generated) {
    DefaultGathering d{op, raw_default, typid, typmod, def->colname};
    gather_or_give_up(cook_default, &d);
  } else if (raw_default == nullptr && !generated) {
    // Without a default of its own the column takes its domain's (ATExecAddColumn): a volatile
    // one is computed for every row.
    Node *domain_default = get_typdefault(typid);
    if (domain_default != nullptr) {
      op->default_volatile = contain_volatile_functions(domain_default);
      op->default_from_domain = true;
      op->default_sql = deparse_expression(domain_default, NIL, false, false);
    }
  }
}

void gather_alter_type(zd::Operation *op, Oid relid, const char *column, ColumnDef *def) {
  AttrNumber attnum = get_attnum(relid, column);
  if (attnum == InvalidAttrNumber) return;
  Oid old_type, collation;
  int32 old_typmod;
  get_atttypetypmodcoll(relid, attnum, &old_type, &old_typmod, &collation);
  gather_type_change(op, relid, attnum, column, old_type, old_typmod, collation, def);
}

void gather_type_change(zd::Operation *op, Oid relid, AttrNumber attnum, const char *column,
                        Oid old_type, int32 old_typmod, Oid collation, ColumnDef *def) {
  int32 new_typmod = -1;
  Type type = LookupTypeName(nullptr, def->typeName, &new_typmod, true);
  if (type == nullptr) return;
  Oid new_type = typeTypeId(type);
  ReleaseSysCache(type);
  op->column = quote_identifier(column);
  op->column_type = format_type_with_typemod(old_type, old_typmod);
  op->new_column_type = format_type_with_typemod(new_type, new_typmod);
  TypeChangeGathering t{op,       attnum,     old_type, old_typmod, collation,
                        new_type, new_typmod, def,      InvalidOid};
  // A USING expression computes new values (a rewrite), unless it is the column itself, bare or
  // cast (`USING (email::text)`: what Knex's .alter() sends), planned as PostgreSQL plans it.
  if (def->raw_default != nullptr &&
      !using_the_column(def->raw_default, column, &t.using_cast_type, &t.using_cast_typmod)) {
    op->type_change_rewrites = true;
    return;
  }
  op->type_change_rewrites = false;
  if (!gather_or_give_up(plan_type_change, &t) || op->type_change_rewrites) return;
  if (!OidIsValid(relid)) return;  // a column of the script's own: nothing in the catalog
  gather_type_change_side_effects(op, relid, attnum,
                                  OidIsValid(t.new_collation) && t.new_collation != collation);
}

namespace {

// What constraint `name` of relation `relid` is to SET NOT NULL on `attnum`: the helper
// CHECK (column IS NOT NULL) an interrupted run left (NOT VALID or validated), or, when the
// name is free or held by another constraint, None.
zd::HelperState not_null_helper_state(Oid relid, const char *name, AttrNumber attnum,
                                      bool *name_taken) {
  const Oid oid = get_relation_constraint_oid(relid, name, true);
  *name_taken = OidIsValid(oid);
  if (!OidIsValid(oid) || attnum == InvalidAttrNumber) return zd::HelperState::None;
  HeapTuple tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(oid));
  if (!HeapTupleIsValid(tuple)) return zd::HelperState::None;
  const Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
  zd::HelperState state = zd::HelperState::None;
  bool isnull;
  const Datum bin = SysCacheGetAttr(CONSTROID, tuple, Anum_pg_constraint_conbin, &isnull);
  if (con->contype == CONSTRAINT_CHECK && !isnull) {
    const Node *expr = (const Node *) stringToNode(TextDatumGetCString(bin));
    const NullTest *test = IsA(expr, NullTest) ? (const NullTest *) expr : nullptr;
    if (test != nullptr && test->nulltesttype == IS_NOT_NULL && !test->argisrow &&
        IsA(test->arg, Var) && ((const Var *) test->arg)->varattno == attnum)
      state = con->convalidated ? zd::HelperState::Validated : zd::HelperState::NotValid;
  }
  ReleaseSysCache(tuple);
  return state;
}

}  // namespace

void gather_set_not_null(zd::Operation *op, Oid relid, const char *column) {
  // Named from the statement: zd_check may judge a column its script adds earlier (not in the
  // catalog yet: no proof, a scan is assumed).
  op->column = quote_identifier(column);
  AttrNumber attnum = get_attnum(relid, column);
  // The helper is named table_column_not_null whatever is in the catalog, so that a re-run
  // after an interrupted one finds what that run left (and finishes it).  Only a constraint of
  // that name that is not such a helper makes it take another name.
  const char *helper = makeObjectName(get_rel_name(relid), column, "not_null");
  bool taken = false;
  op->helper_state = not_null_helper_state(relid, helper, attnum, &taken);
  if (taken && op->helper_state == zd::HelperState::None)
    helper = ChooseConstraintName(get_rel_name(relid), column, "not_null",
                                  get_rel_namespace(relid), NIL);
  op->constraint_name = quote_identifier(helper);
  if (attnum == InvalidAttrNumber) return;
  // 18+: the column's NOT NULL constraint left NOT VALID (the native safe form, interrupted).
  if (const char *native = compat::column_not_null_not_valid(relid, attnum)) {
    op->native_not_null = true;
    op->helper_state = zd::HelperState::NotValid;
    op->constraint_name = quote_identifier(native);
  }
  const bool already = compat::column_not_null_validated(relid, attnum);
  op->column_not_null = already;
  op->has_valid_not_null_check = already || not_null_implied_by_checks(relid, attnum);
}

}  // namespace zd::pg
