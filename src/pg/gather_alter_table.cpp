// Gathering for ALTER TABLE: one operation per subcommand, each with the statement's lock
// (AlterTableGetLockLevel, PostgreSQL's own answer).  Whether a change rewrites or scans is
// decided here the way tablecmds.c decides it, from the catalog, never from type names.
#include "pg/gather_internal.hpp"

#include "pg/sql_tokens.hpp"
#include "pg/subtransaction.hpp"
#include "pg/table_facts.hpp"
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
      if (DomainHasConstraints(d->resulttype)) return true;
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

// A valid CHECK constraint on the table implies `attnum IS NOT NULL` (then SET NOT NULL skips
// its scan): PostgreSQL's NotNullImpliedByRelConstraints, with the same predicate prover.  A
// constraint is folded (its constants evaluated) as PostgreSQL does only when it calls nothing
// but trusted code (trusted_code.hpp); else it is proved from as it stands, which can only
// prove less.
bool not_null_implied_by_checks(Oid relid, AttrNumber attnum) {
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
  Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(pg_constraint, ConstraintRelidTypidNameIndexId, true,
                                        nullptr, 1, &key);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
    if (con->contype != CONSTRAINT_CHECK || !con->convalidated) continue;
    bool isnull;
    Datum bin = heap_getattr(tuple, Anum_pg_constraint_conbin, RelationGetDescr(pg_constraint),
                             &isnull);
    if (isnull) continue;
    Node *expr = (Node *) stringToNode(TextDatumGetCString(bin));
    if (runs_only_trusted_code(expr)) expr = eval_const_expressions(nullptr, expr);
    expr = (Node *) canonicalize_qual((Expr *) expr, true);
    checks = list_concat(checks, make_ands_implicit((Expr *) expr));
  }
  systable_endscan(scan);
  table_close(pg_constraint, AccessShareLock);
  // Weak implication, as PostgreSQL uses: a CHECK constraint also passes when it yields NULL.
  return checks != NIL && predicate_implied_by(list_make1(test), checks, true);
}

const char *join_names(List *names, const char *separator, bool quote) {
  StringInfoData buf;
  initStringInfo(&buf);
  ListCell *lc;
  foreach (lc, names) {
    if (buf.len > 0) appendStringInfoString(&buf, separator);
    appendStringInfoString(&buf, quote ? quote_identifier(strVal(lfirst(lc))) : strVal(lfirst(lc)));
  }
  return buf.data;
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
  ListCell *lc;
  foreach (lc, def->constraints) {
    Constraint *c = lfirst_node(Constraint, lc);
    if (c->contype == CONSTR_DEFAULT) raw_default = c->raw_expr;
    if (c->contype == CONSTR_NOTNULL || c->contype == CONSTR_PRIMARY) op->not_null = true;
    if (c->contype == CONSTR_IDENTITY) op->identity = true;
    // (A raw expression cannot be deparsed before it is analysed; the hint names it instead.)
    if (c->contype == CONSTR_GENERATED) op->generated_stored = true;
  }
  // Like ATExecAddColumn: a domain with constraints must be checked on every row.
  op->domain_checked = DomainHasConstraints(typid);
  if (raw_default != nullptr && !op->generated_stored) {
    DefaultGathering d{op, raw_default, typid, typmod, def->colname};
    gather_or_give_up(cook_default, &d);
  } else if (raw_default == nullptr && !op->generated_stored) {
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
};

// A palloc'd list of C strings as a span of texts.
Span<const zd::Text> texts(List *strings) {
  zd::Text *out = (zd::Text *) palloc0(sizeof(zd::Text) * (list_length(strings) + 1));
  int n = 0;
  ListCell *lc;
  foreach (lc, strings) out[n++] = (const char *) lfirst(lc);
  return {out, (size_t) n};
}

// Plans the coercion ALTER TYPE will apply, and tests it as tablecmds.c does.
void plan_type_change(void *arg) {
  TypeChangeGathering *t = (TypeChangeGathering *) arg;
  Node *transform =
      (Node *) makeVar(1, t->attnum, t->old_type, t->old_typmod, t->collation, 0);
  transform = coerce_to_target_type(make_parsestate(nullptr), transform, t->old_type,
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
  Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(pg_constraint, ConstraintRelidTypidNameIndexId, true,
                                        nullptr, 1, &key);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
    if (con->contype != CONSTRAINT_CHECK || !con->convalidated) continue;
    bool isnull;
    Datum conkey = heap_getattr(tuple, Anum_pg_constraint_conkey, RelationGetDescr(pg_constraint),
                                &isnull);
    if (isnull) continue;
    ArrayType *keys = DatumGetArrayTypeP(conkey);
    const int16 *attnums = (const int16 *) ARR_DATA_PTR(keys);
    bool on_column = false;
    for (int i = 0; i < ARR_DIMS(keys)[0]; i++) on_column = on_column || attnums[i] == attnum;
    if (!on_column) continue;
    names = lappend(names, (void *) quote_identifier(pstrdup(NameStr(con->conname))));
    defs = lappend(defs, TextDatumGetCString(DirectFunctionCall1(
                             pg_get_constraintdef, ObjectIdGetDatum(con->oid))));
  }
  systable_endscan(scan);
  table_close(pg_constraint, AccessShareLock);
  op->rechecked_names = texts(names);
  op->rechecked_defs = texts(defs);
  if (!collation_changes) return;
  // The indexes on the column: pg_depend, as ATExecAlterColumnType finds them.
  List *index_names = NIL, *index_defs = NIL;
  Relation depend = table_open(DependRelationId, AccessShareLock);
  ScanKeyData keys[3];
  ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(RelationRelationId));
  ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  ScanKeyInit(&keys[2], Anum_pg_depend_refobjsubid, BTEqualStrategyNumber, F_INT4EQ,
              Int32GetDatum((int32) attnum));
  SysScanDesc deps = systable_beginscan(depend, DependReferenceIndexId, true, nullptr, 3, keys);
  while (HeapTupleIsValid(tuple = systable_getnext(deps))) {
    Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tuple);
    if (d->classid != RelationRelationId || get_rel_relkind(d->objid) != RELKIND_INDEX) continue;
    op->rebuilt_constraint_index =
        op->rebuilt_constraint_index || OidIsValid(get_index_constraint(d->objid));
    index_names = lappend(index_names, (void *) qualified_relation_name(d->objid));
    index_defs = lappend(index_defs, pg_get_indexdef_string(d->objid));
  }
  systable_endscan(deps);
  table_close(depend, AccessShareLock);
  op->rebuilt_index_names = texts(index_names);
  op->rebuilt_index_defs = texts(index_defs);
}

void gather_alter_type(zd::Operation *op, Oid relid, const char *column, ColumnDef *def) {
  AttrNumber attnum = get_attnum(relid, column);
  if (attnum == InvalidAttrNumber) return;
  Oid old_type, collation;
  int32 old_typmod, new_typmod = -1;
  get_atttypetypmodcoll(relid, attnum, &old_type, &old_typmod, &collation);
  Type type = LookupTypeName(nullptr, def->typeName, &new_typmod, true);
  if (type == nullptr) return;
  Oid new_type = typeTypeId(type);
  ReleaseSysCache(type);
  op->column = quote_identifier(column);
  op->column_type = format_type_with_typemod(old_type, old_typmod);
  op->new_column_type = format_type_with_typemod(new_type, new_typmod);
  if (def->raw_default != nullptr) {  // USING expression: assume it computes new values
    op->type_change_rewrites = true;
    return;
  }
  TypeChangeGathering t{op,       attnum,     old_type, old_typmod, collation,
                        new_type, new_typmod, def,      InvalidOid};
  if (!gather_or_give_up(plan_type_change, &t) || op->type_change_rewrites) return;
  gather_type_change_side_effects(op, relid, attnum,
                                  OidIsValid(t.new_collation) && t.new_collation != collation);
}

void gather_set_not_null(zd::Operation *op, Oid relid, const char *column) {
  AttrNumber attnum = get_attnum(relid, column);
  if (attnum == InvalidAttrNumber) return;
  op->column = quote_identifier(column);
  HeapTuple tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
  bool already = HeapTupleIsValid(tuple) && ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
  if (HeapTupleIsValid(tuple)) ReleaseSysCache(tuple);
  op->has_valid_not_null_check = already || not_null_implied_by_checks(relid, attnum);
  op->constraint_name = quote_identifier(ChooseConstraintName(
      get_rel_name(relid), column, "not_null", get_rel_namespace(relid), NIL));
}

void gather_primary_key_using_index(zd::Operation *op, Oid relid, Oid nsp, Constraint *c) {
  const Oid index = get_relname_relid(c->indexname, nsp);
  if (!OidIsValid(index)) return;
  HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
  if (!HeapTupleIsValid(tuple)) return;
  Form_pg_index form = (Form_pg_index) GETSTRUCT(tuple);
  const int n = form->indnkeyatts;
  zd::Text *nullable = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
  int count = 0;
  for (int i = 0; i < n; i++) {
    const AttrNumber attnum = form->indkey.values[i];
    if (attnum <= 0) continue;  // an expression: PostgreSQL refuses it as a key
    HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    const bool notnull = HeapTupleIsValid(att) && ((Form_pg_attribute) GETSTRUCT(att))->attnotnull;
    if (HeapTupleIsValid(att)) ReleaseSysCache(att);
    if (!notnull && !not_null_implied_by_checks(relid, attnum))
      nullable[count++] = quote_identifier(get_attname(relid, attnum, false));
  }
  ReleaseSysCache(tuple);
  if (count == 0) return;
  op->kind = zd::OpKind::AddPrimaryKey;
  op->command = "ALTER TABLE ... ADD PRIMARY KEY USING INDEX";
  op->primary_key_using_index = true;
  op->nullable_key_columns = {nullable, (size_t) count};
  op->constraint_name = quote_identifier(
      c->conname != nullptr ? c->conname : c->indexname);
}

void gather_add_constraint(Gathering *g, zd::Operation *op, Oid relid, Constraint *c) {
  const char *relname = get_rel_name(relid);
  Oid nsp = get_rel_namespace(relid);
  op->not_valid = c->skip_validation;
  const char *name = c->conname;
  switch (c->contype) {
    case CONSTR_CHECK:
      op->kind = zd::OpKind::AddCheck;
      op->command = "ALTER TABLE ... ADD CHECK";
      if (!name) name = ChooseConstraintName(relname, nullptr, "check", nsp, NIL);
      break;
    case CONSTR_FOREIGN:
      op->kind = zd::OpKind::AddForeignKey;
      op->command = "ALTER TABLE ... ADD FOREIGN KEY";
      if (!name)
        name = ChooseConstraintName(relname, join_names(c->fk_attrs, "_", false), "fkey", nsp,
                                    NIL);
      // PostgreSQL 15 cannot add a NOT VALID foreign key to a partitioned table.
      op->constraint_rewritable = !op->table.partitioned;
      break;
    case CONSTR_UNIQUE:
    case CONSTR_PRIMARY: {
      const bool pk = c->contype == CONSTR_PRIMARY;
      if (c->indexname != nullptr) {
        // ... USING INDEX: the safe form, but a PRIMARY KEY makes its columns NOT NULL, with
        // the scan of SET NOT NULL for each one no valid CHECK proves already.
        if (pk) gather_primary_key_using_index(op, relid, nsp, c);
        return;
      }
      op->kind = pk ? zd::OpKind::AddPrimaryKey : zd::OpKind::AddUnique;
      op->command = pk ? "ALTER TABLE ... ADD PRIMARY KEY" : "ALTER TABLE ... ADD UNIQUE";
      if (!name)
        name = ChooseRelationName(relname, pk ? nullptr : join_names(c->keys, "_", false),
                                  pk ? "pkey" : "key", nsp, true);
      int n = list_length(c->keys), nullable = 0;
      zd::Text *keys = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
      zd::Text *nullable_keys = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
      for (int i = 0; i < n; i++) {
        const char *column = strVal(list_nth(c->keys, i));
        keys[i] = quote_identifier(column);
        AttrNumber attnum = get_attnum(relid, column);
        HeapTuple t = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
        bool notnull = HeapTupleIsValid(t) && ((Form_pg_attribute) GETSTRUCT(t))->attnotnull;
        if (HeapTupleIsValid(t)) ReleaseSysCache(t);
        if (!notnull) nullable_keys[nullable++] = keys[i];
      }
      op->key_columns = {keys, (size_t) n};
      op->nullable_key_columns = {nullable_keys, (size_t) nullable};
      op->constraint_rewritable = c->including == NIL && c->options == NIL &&
                                  c->indexspace == nullptr && !c->nulls_not_distinct &&
                                  !c->deferrable && !c->initdeferred &&
                                  !op->table.partitioned;
      break;
    }
    case CONSTR_EXCLUSION:
      op->kind = zd::OpKind::AddExclude;
      op->command = "ALTER TABLE ... ADD EXCLUDE";
      break;
    default:
      return;  // other constraint kinds: the lock cap only
  }
  if (name != nullptr) {
    op->constraint_name = quote_identifier(name);
    // The unique index built first gets the constraint's name, unless a relation has it (the
    // statement replaces a key of that name: DROP CONSTRAINT t_pkey, ADD CONSTRAINT t_pkey
    // ...); ADD CONSTRAINT ... USING INDEX renames it to the constraint's name.
    const char *index = OidIsValid(get_relname_relid(name, nsp))
                            ? ChooseRelationName(name, nullptr, "new", nsp, false)
                            : name;
    op->index_name = quote_identifier(index);
    op->index_qualified_name = quote_qualified_identifier(get_namespace_name(nsp), index);
  }
  // The constraint's text: from its location to the end of its subcommand, so that the safe
  // form changes it in place and keeps the statement's other changes.
  op->constraint_at = statement_offset(g, c->location);
  if (c->conname == nullptr) op->constraint_name_at = op->constraint_at;
  if (op->constraint_at >= 0) op->not_valid_at = offset_of_list_item_end(g->sql, op->constraint_at);
}

struct AttachGathering {
  zd::Operation *op;
  Oid parent;
  Oid partition;
  PartitionBoundSpec *raw_bound;
};

void compute_partition_check(void *arg);

// The bound's values are literals (or MINVALUE / MAXVALUE): turning them into the key's type
// then calls only its input function.  An expression would be evaluated.
bool bound_is_constants(const PartitionBoundSpec *bound) {
  for (List *values : {bound->listdatums, bound->lowerdatums, bound->upperdatums}) {
    ListCell *lc;
    foreach (lc, values) {
      Node *value = (Node *) lfirst(lc);
      if (IsA(value, TypeCast)) value = ((TypeCast *) value)->arg;
      if (!IsA(value, A_Const) && !IsA(value, ColumnRef)) return false;
    }
  }
  return true;
}

// Turning the bound into the key's values and the partition constraint into its folded form
// calls the key's types' input functions, the key expressions' functions and, for a domain
// key, its CHECK constraints: all must be trusted.  (Proving the constraint from the
// partition's CHECK constraints folds those: checked where the proof is made.)
bool partition_key_trusted(Relation parent) {
  PartitionKey key = RelationGetPartitionKey(parent);
  for (int i = 0; i < key->partnatts; i++)
    if (get_typtype(key->parttypid[i]) == TYPTYPE_DOMAIN) return false;
  return runs_only_trusted_code((Node *) key->partexprs) &&
         runs_only_trusted_code((Node *) RelationGetPartitionQual(parent));
}

// ATTACH PARTITION: the partition constraint ATExecAttachPartition would check, and whether a
// valid CHECK of the partition already implies it (then there is no scan).  Skipped when the
// caller does not own both tables (PostgreSQL refuses the statement before it looks at
// either), when the parent or the partition cannot be locked without waiting, when computing it
// would evaluate code that is not trusted (trusted_code.hpp), and when computing it raises an
// error (PostgreSQL then reports its own, when the statement runs).
void gather_attach_partition(zd::Operation *op, Oid parent, Oid partition,
                             PartitionBoundSpec *raw_bound) {
  if (!OidIsValid(partition) || raw_bound == nullptr) return;
  // PostgreSQL itself rejects an ATTACH to a table that is not partitioned; a foreign table
  // is never scanned, and a partitioned one is checked partition by partition.
  if (get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE ||
      get_rel_relkind(partition) != RELKIND_RELATION)
    return;
  // A scan unless proven otherwise below: giving up on the proof must not pass for one.
  op->partition_check_implied = false;
  if (!caller_owns_relation(parent) || !caller_owns_relation(partition) ||
      !bound_is_constants(raw_bound))
    return;
  AttachGathering a{op, parent, partition, raw_bound};
  // An error computing it (a bound out of range, say) is PostgreSQL's to report, as it will.
  if (!gather_or_give_up(compute_partition_check, &a)) op->partition_check_implied = true;
}

void compute_partition_check(void *arg) {
  AttachGathering *a = (AttachGathering *) arg;
  zd::Operation *op = a->op;
  Oid parent = a->parent, partition = a->partition;
  PartitionBoundSpec *raw_bound = a->raw_bound;
  if (!ConditionalLockRelationOid(parent, AccessShareLock)) return;
  if (!ConditionalLockRelationOid(partition, AccessShareLock)) {
    UnlockRelationOid(parent, AccessShareLock);
    return;
  }
  Relation parent_rel = relation_open(parent, NoLock);
  Relation part_rel = relation_open(partition, NoLock);
  if (!partition_key_trusted(parent_rel)) {
    relation_close(part_rel, NoLock);
    relation_close(parent_rel, NoLock);
    UnlockRelationOid(partition, AccessShareLock);
    UnlockRelationOid(parent, AccessShareLock);
    return;
  }
  PartitionBoundSpec *bound = transformPartitionBound(
      make_parsestate(nullptr), parent_rel, (PartitionBoundSpec *) copyObjectImpl(raw_bound));
  List *qual = list_concat(get_qual_from_partbound(parent_rel, bound),
                           RelationGetPartitionQual(parent_rel));
  if (qual == NIL) op->partition_check_implied = true;  // nothing to check: no scan
  if (qual != NIL) {
    qual = (List *) eval_const_expressions(nullptr, (Node *) qual);
    qual = list_make1(make_ands_explicit(qual));
    qual = map_partition_varattnos(qual, 1, part_rel, parent_rel);
    // The proof folds the partition's CHECK constraints: only when they are trusted.
    op->partition_check_implied = checks_run_only_trusted_code(partition) &&
                                  PartConstraintImpliedByRelConstraint(part_rel, qual);
    op->partition_check_sql =
        deparse_expression((Node *) linitial(qual),
                           deparse_context_for(RelationGetRelationName(part_rel), partition),
                           false, false);
    op->constraint_name = quote_identifier(
        ChooseConstraintName(RelationGetRelationName(part_rel), nullptr, "partition_check",
                             RelationGetNamespace(part_rel), NIL));
  }
  relation_close(part_rel, NoLock);
  relation_close(parent_rel, NoLock);
  UnlockRelationOid(partition, AccessShareLock);
  UnlockRelationOid(parent, AccessShareLock);
}

// As ATExecSetTableSpace decides: moving to the tablespace it is in already (0: the
// database's) is a no-op.
bool already_in_tablespace(Oid relid, const char *tablespace) {
  const Oid target = get_tablespace_oid(tablespace, true);
  const Oid current = get_rel_tablespace(relid);
  return OidIsValid(target) &&
         (target == current || (target == MyDatabaseTableSpace && current == InvalidOid));
}

zd::OpKind rewrite_kind(AlterTableType subtype) {
  switch (subtype) {
    case AT_SetLogged: return zd::OpKind::SetLogged;
    case AT_SetUnLogged: return zd::OpKind::SetUnlogged;
    case AT_SetTableSpace: return zd::OpKind::SetTablespace;
    case AT_SetAccessMethod: return zd::OpKind::SetAccessMethod;
    default: return zd::OpKind::OtherLocking;
  }
}

const char *alter_command(AlterTableType subtype) {
  switch (subtype) {
    case AT_SetLogged: return "ALTER TABLE ... SET LOGGED";
    case AT_SetUnLogged: return "ALTER TABLE ... SET UNLOGGED";
    case AT_SetTableSpace: return "ALTER TABLE ... SET TABLESPACE";
    case AT_SetAccessMethod: return "ALTER TABLE ... SET ACCESS METHOD";
    default: return "ALTER TABLE";
  }
}

}  // namespace

void gather_alter_table(Gathering *g, AlterTableStmt *stmt) {
  g->recurses = stmt->relation->inh;
  Oid relid = lookup_relation(stmt->relation);
  if (!OidIsValid(relid)) return;
  const LOCKMODE lock = AlterTableGetLockLevel(stmt->cmds);
  if (stmt->objtype != OBJECT_TABLE) {
    // ALTER INDEX / VIEW / MATERIALIZED VIEW / SEQUENCE / FOREIGN TABLE: the lock cap only,
    // but SET TABLESPACE of an index or a materialized view copies it under ACCESS EXCLUSIVE
    // (an index locked so blocks every query that plans on its table).
    const bool moves = list_length(stmt->cmds) == 1 &&
                       linitial_node(AlterTableCmd, stmt->cmds)->subtype == AT_SetTableSpace &&
                       (stmt->objtype == OBJECT_INDEX || stmt->objtype == OBJECT_MATVIEW);
    if (!moves) {
      add_operation(g, zd::OpKind::OtherLocking, relid, lock, "ALTER");
      return;
    }
    zd::Operation *op = add_operation(
        g, zd::OpKind::SetTablespace, relid, lock,
        stmt->objtype == OBJECT_INDEX ? "ALTER INDEX ... SET TABLESPACE"
                                      : "ALTER MATERIALIZED VIEW ... SET TABLESPACE");
    op->tablespace_unchanged =
        already_in_tablespace(relid, linitial_node(AlterTableCmd, stmt->cmds)->name);
    return;
  }
  if (!is_table(relid) || !caller_owns_relation(relid)) {
    // ALTER TABLE also reaches views, indexes and sequences: no table rule applies to them,
    // only the lock cap.  Nor to a table the caller does not own: PostgreSQL refuses the
    // statement before it looks at the table, and so must gather (it would fold the table's
    // expressions and read its rows).
    add_operation(g, zd::OpKind::OtherLocking, relid, lock, "ALTER TABLE");
    return;
  }
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
    if (cmd->subtype == AT_AddConstraint || cmd->subtype == AT_AddColumn)
      gather_foreign_key_references(g, cmd->def);
    switch (cmd->subtype) {
      case AT_AddColumn: {
        ColumnDef *def = castNode(ColumnDef, cmd->def);
        zd::Operation *op = add_operation(g, zd::OpKind::AddColumn, relid, lock,
                                          "ALTER TABLE ... ADD COLUMN", true);
        gather_add_column(g, op, relid, def);
        break;
      }
      case AT_AlterColumnType: {
        zd::Operation *op = add_operation(g, zd::OpKind::AlterColumnType, relid, lock,
                                          "ALTER TABLE ... ALTER COLUMN ... TYPE");
        gather_alter_type(op, relid, cmd->name, castNode(ColumnDef, cmd->def));
        break;
      }
      case AT_SetNotNull: {
        zd::Operation *op = add_operation(g, zd::OpKind::SetNotNull, relid, lock,
                                          "ALTER TABLE ... SET NOT NULL");
        gather_set_not_null(op, relid, cmd->name);
        break;
      }
      case AT_AddConstraint: {
        zd::Operation *op = add_operation(g, zd::OpKind::OtherLocking, relid, lock,
                                          "ALTER TABLE ... ADD CONSTRAINT");
        gather_add_constraint(g, op, relid, castNode(Constraint, cmd->def));
        break;
      }
      case AT_DropColumn: {
        zd::Operation *op = add_operation(g, zd::OpKind::DropColumn, relid, lock,
                                          "ALTER TABLE ... DROP COLUMN", true);
        op->column = quote_identifier(cmd->name);
        break;
      }
      case AT_AttachPartition: {
        PartitionCmd *pc = castNode(PartitionCmd, cmd->def);
        Oid partition = lookup_relation(pc->name);
        // The partition is the table scanned and locked ACCESS EXCLUSIVE.
        zd::Operation *op = add_operation(g, zd::OpKind::AttachPartition, partition,
                                          AccessExclusiveLock, "ALTER TABLE ... ATTACH PARTITION");
        op->partition_name = op->table.name;
        gather_attach_partition(op, relid, partition, pc->bound);
        break;
      }
      case AT_DetachPartition: {
        PartitionCmd *pc = castNode(PartitionCmd, cmd->def);
        zd::Operation *op = add_operation(g, zd::OpKind::DetachPartition, relid, lock,
                                          "ALTER TABLE ... DETACH PARTITION");
        op->concurrently = pc->concurrent;
        op->partition_name = qualified_relation_name(lookup_relation(pc->name));
        if (op->partition_name.empty()) op->kind = zd::OpKind::OtherLocking;  // PG reports it
        // DETACH ... CONCURRENTLY is impossible while the table has a default partition.
        if (!OidIsValid(get_default_partition_oid(relid)))
          op->concurrently_at = offset_after_last_token(g->sql);
        break;
      }
      case AT_ValidateConstraint:
        add_operation(g, zd::OpKind::ValidateConstraint, relid, lock,
                      "ALTER TABLE ... VALIDATE CONSTRAINT");
        break;
      case AT_SetTableSpace: {
        zd::Operation *op = add_operation(g, zd::OpKind::SetTablespace, relid, lock,
                                          alter_command(cmd->subtype));
        op->tablespace_unchanged = already_in_tablespace(relid, cmd->name);
        break;
      }
      default:
        add_operation(g, rewrite_kind(cmd->subtype), relid, lock, alter_command(cmd->subtype));
        break;
    }
  }
}

}  // namespace zd::pg
