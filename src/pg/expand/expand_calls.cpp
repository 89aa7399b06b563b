// zd_expand_rename_column and zd_expand_change_type: start a migration, in the caller's
// transaction.  They check everything first (the caller owns a plain table; the column exists
// and is an ordinary one; the new name is free; the type exists; the expressions parse over
// the row and convert to the columns' types; no other active migration owns the column), so
// bad input changes nothing; then run the expand steps (steps.cpp) below the guard, lock
// capped, and record the migration in the same transaction.
#include "pg/expand/expand.hpp"
#include "pg/compat.h"

#include "pg/boundary.hpp"
#include "pg/trusted_code.hpp"
#include "pg/top_level.hpp"

extern "C" {
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
}

namespace zd::pg::expand {
namespace {

const char *required_text(FunctionCallInfo fcinfo, int arg, const char *what) {
  if (PG_ARGISNULL(arg))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: %s must not be NULL", what)));
  return TextDatumGetCString(PG_GETARG_DATUM(arg));
}

const char *required_name(FunctionCallInfo fcinfo, int arg, const char *what) {
  if (PG_ARGISNULL(arg))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: %s must not be NULL", what)));
  return pstrdup(NameStr(*PG_GETARG_NAME(arg)));
}

}  // namespace

// The table: a plain table the caller owns, not partitioned, no inheritance.
Migration *new_migration(FunctionCallInfo fcinfo, const char *kind) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: relation must not be NULL")));
  Migration *m = (Migration *) palloc0(sizeof(Migration));
  m->relid = PG_GETARG_OID(0);
  m->kind = kind;
  m->old_column = required_name(fcinfo, 1, "column_name");
  m->started_by = GetUserId();
  m->phase = zd::MigrationPhase::Expanded;
  const char *name = get_rel_name(m->relid);
  if (name == nullptr)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("zero_downtime: relation with OID %u does not exist", m->relid)));
  m->relation = quote_qualified_identifier(get_namespace_name(get_rel_namespace(m->relid)), name);
  if (!caller_owns_relation(m->relid))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("zero_downtime: must be owner of table %s to migrate it", m->relation)));
  if (IsCatalogRelationOid(m->relid))
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                    errmsg("zero_downtime: %s is a system catalog", m->relation)));
  const char relkind = get_rel_relkind(m->relid);
  if (relkind != RELKIND_RELATION)
    ereport(ERROR,
            (errcode(ERRCODE_WRONG_OBJECT_TYPE),
             errmsg("zero_downtime: %s is not a plain table", m->relation),
             errdetail(relkind == RELKIND_PARTITIONED_TABLE
                           ? "Expand/contract of a partitioned table is not supported yet."
                           : "Expand/contract works on tables.")));
  if (has_subclass(m->relid) || get_rel_relispartition(m->relid))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("zero_downtime: %s is in an inheritance tree or is a partition",
                           m->relation),
                    errdetail("Expand/contract of such tables is not supported yet.")));
  return m;
}

// The old column: an ordinary column of the table.  Returns its attnum.
AttrNumber check_old_column(Relation rel, const Migration *m) {
  const AttrNumber attnum = get_attnum(m->relid, m->old_column);
  if (attnum == InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("zero_downtime: column %s of %s does not exist",
                           quote_identifier(m->old_column), m->relation)));
  if (attnum < 0)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("zero_downtime: %s is a system column", quote_identifier(m->old_column))));
  Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
  if (att->attidentity || att->attgenerated)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("zero_downtime: column %s of %s is %s, which expand/contract does "
                           "not carry over yet",
                           quote_identifier(m->old_column), m->relation,
                           att->attidentity ? "an identity column" : "a generated column"),
                    errhint("Nothing was changed.")));
  return attnum;
}

void check_new_name_free(const Migration *m) {
  if (get_attnum(m->relid, m->new_column) != InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                    errmsg("zero_downtime: column %s of %s already exists",
                           quote_identifier(m->new_column), m->relation)));
}

namespace {

// Runs the expand steps and records the migration; returns its id.
int64 expand(Migration *m) {
  insert_migration(m);  // refuses a column another migration owns, before any DDL
  List *steps = steps_for(m, StepPhase::Expand);
  ListCell *lc;
  foreach (lc, steps) run_step(m, (const Step *) lfirst(lc));
  usage_watch_at_commit(m);
  return m->id;
}

const char *version_arg(FunctionCallInfo fcinfo, int arg) {
  return PG_ARGISNULL(arg) ? "" : TextDatumGetCString(PG_GETARG_DATUM(arg));
}

}  // namespace
}  // namespace zd::pg::expand

// zd_expand_rename_column(relation, column_name, new_name, version)
ZD_SQL_FUNCTION(zd_expand_rename_column) {
  using namespace zd::pg::expand;
  Migration *m = new_migration(fcinfo, "rename column");
  m->new_column = required_name(fcinfo, 2, "new_name");
  m->version = version_arg(fcinfo, 3);
  Relation rel = relation_open(m->relid, AccessShareLock);
  const AttrNumber attnum = check_old_column(rel, m);
  check_new_name_free(m);
  Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
  // Printed as the steps run it: search_path pinned (a type outside pg_catalog qualified).
  const int level = pin_search_path();
  m->new_type = format_type_with_typemod(att->atttypid, att->atttypmod);
  if (OidIsValid(att->attcollation) && att->attcollation != get_typcollation(att->atttypid))
    m->new_type = psprintf("%s COLLATE %s", m->new_type,
                           generate_collation_name(att->attcollation));
  restore_search_path(level);
  m->up_sql = quote_identifier(m->old_column);
  m->down_sql = quote_identifier(m->new_column);
  relation_close(rel, AccessShareLock);
  PG_RETURN_INT64(expand(m));
}

// zd_expand_change_type(relation, column_name, new_type, up_expr, down_expr, version,
// new_column)
ZD_SQL_FUNCTION(zd_expand_change_type) {
  using namespace zd::pg::expand;
  Migration *m = new_migration(fcinfo, "change type");
  const char *type_text = required_text(fcinfo, 2, "new_type");
  const char *up = required_text(fcinfo, 3, "up_expr");
  const char *down = required_text(fcinfo, 4, "down_expr");
  m->version = version_arg(fcinfo, 5);
  m->new_column = PG_ARGISNULL(6) ? psprintf("%s_zd_new", m->old_column)
                                  : pstrdup(NameStr(*PG_GETARG_NAME(6)));
  Relation rel = relation_open(m->relid, AccessShareLock);
  const AttrNumber old_attnum = check_old_column(rel, m);
  check_new_name_free(m);
  // The type as the caller names it (its search_path), stored as format_type prints it.
  Oid type;
  int32 typmod;
  zd::pg::compat::parse_type_string(type_text, &type, &typmod);
  const int level = pin_search_path();  // printed as the steps run it (qualified)
  m->new_type = format_type_with_typemod(type, typmod);
  restore_search_path(level);
  // The expressions are checked against the table with the new column in place: parse them
  // over a copy of the row type that has it (a relation descriptor extended by hand would be
  // fragile), so they are parsed after the ADD COLUMN, in this transaction, below.
  relation_close(rel, AccessShareLock);
  m->up_sql = "";  // known once the new column exists (below)
  m->down_sql = "";
  insert_migration(m);
  List *steps = steps_for(m, StepPhase::Expand);
  // ADD COLUMN first; then the expressions can name it; the trigger (last step) carries them.
  const Step *add = (const Step *) linitial(steps);
  run_step(m, add);
  CommandCounterIncrement();
  rel = relation_open(m->relid, AccessShareLock);
  const AttrNumber new_attnum = get_attnum(m->relid, m->new_column);
  Node *up_tree = parse_row_expression(rel, up, "up_expr", nullptr, 0, new_attnum);
  Node *down_tree = parse_row_expression(rel, down, "down_expr", m->old_column, new_attnum,
                                         old_attnum);
  m->up_sql = normalized_sql(rel, up_tree);
  m->down_sql = normalized_sql(rel, down_tree);
  relation_close(rel, AccessShareLock);
  save_expressions(m);
  // The other steps, built again now that the expressions are known (the trigger carries them).
  steps = steps_for(m, StepPhase::Expand);
  ListCell *lc;
  for_each_from(lc, steps, 1) run_step(m, (const Step *) lfirst(lc));
  usage_watch_at_commit(m);
  PG_RETURN_INT64(m->id);
}
