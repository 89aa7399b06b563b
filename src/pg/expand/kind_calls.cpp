// zd_expand_set_not_null and zd_expand_add_column: start a migration that makes a column NOT
// NULL, or adds a column filled from an expression, in the caller's transaction.  As the other
// expand calls (expand_calls.cpp): everything is checked first, so bad input changes nothing;
// then the expand steps (kind_steps.cpp) run below the guard, lock capped, and the migration
// is recorded in the same transaction.  The long part (the backfill, the VALIDATE) is
// zd_migrate's, after the commit.
#include "pg/expand/expand.hpp"
#include "pg/compat.h"

#include "pg/boundary.hpp"

extern "C" {
#include "access/relation.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace zd::pg::expand {
namespace {

const char *optional_text(FunctionCallInfo fcinfo, int arg) {
  return PG_ARGISNULL(arg) ? nullptr : TextDatumGetCString(PG_GETARG_DATUM(arg));
}

const char *required_text(FunctionCallInfo fcinfo, int arg, const char *what) {
  if (PG_ARGISNULL(arg))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: %s must not be NULL", what)));
  return TextDatumGetCString(PG_GETARG_DATUM(arg));
}

// The column's type as the steps print it (search_path pinned: qualified outside pg_catalog).
const char *type_text(Oid type, int32 typmod) {
  const int level = pin_search_path();
  const char *text = format_type_with_typemod(type, typmod);
  restore_search_path(level);
  return text;
}

// Runs the steps from `first` on (the expand's), in this transaction.
void run_expand_steps(const Migration *m, int first) {
  List *steps = steps_for(m, StepPhase::Expand);
  ListCell *lc;
  for_each_from(lc, steps, first) run_step(m, (const Step *) lfirst(lc));
}

}  // namespace
}  // namespace zd::pg::expand

// zd_expand_set_not_null(relation, column_name, fill_expr)
ZD_SQL_FUNCTION(zd_expand_set_not_null) {
  using namespace zd::pg::expand;
  Migration *m = new_migration(fcinfo, "set not null");
  m->new_column = m->old_column;
  m->version = "";
  m->not_null = true;
  m->down_sql = "";
  const char *fill = optional_text(fcinfo, 2);
  Relation rel = relation_open(m->relid, AccessShareLock);
  const AttrNumber attnum = check_old_column(rel, m);
  Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
  // (A column another migration owns: insert_migration refuses it, naming that migration.)
  zd::MigrationPhase owner_phase;
  bool owner_old;
  if (att->attnotnull &&
      migration_owning_column(m->relid, m->old_column, &owner_phase, &owner_old) == 0) {
    // 18+: a NOT NULL constraint added NOT VALID (by hand, or by an interrupted safe form).
    const char *not_valid = zd::pg::compat::column_not_null_not_valid(m->relid, attnum);
    if (not_valid != nullptr)
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("zero_downtime: column %s of %s has a NOT NULL constraint %s that "
                             "is NOT VALID",
                             quote_identifier(m->old_column), m->relation,
                             quote_identifier(not_valid)),
                      errhint("Nothing was changed.  Fill its NULL rows, then: ALTER TABLE %s "
                              "VALIDATE CONSTRAINT %s;",
                              m->relation, quote_identifier(not_valid))));
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("zero_downtime: column %s of %s is already NOT NULL",
                           quote_identifier(m->old_column), m->relation),
                    errhint("Nothing to do; nothing was changed.")));
  }
  m->new_type = type_text(att->atttypid, att->atttypmod);
  // The fill expression as the caller wrote it (its search_path), stored qualified.
  m->up_sql = fill != nullptr
                  ? normalized_sql(rel, parse_row_expression(rel, fill, "fill_expr", nullptr, 0,
                                                             attnum))
                  : "";
  relation_close(rel, AccessShareLock);
  insert_migration(m);  // refuses a column another migration owns, before any DDL
  run_expand_steps(m, 0);
  PG_RETURN_INT64(m->id);
}

// zd_expand_add_column(relation, column_name, type, fill_expr, not_null)
ZD_SQL_FUNCTION(zd_expand_add_column) {
  using namespace zd::pg::expand;
  Migration *m = new_migration(fcinfo, "add column");
  m->new_column = m->old_column;
  m->version = "";
  m->down_sql = "";
  const char *type_arg = required_text(fcinfo, 2, "type");
  const char *fill = required_text(fcinfo, 3, "fill_expr");
  m->not_null = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
  check_new_name_free(m);
  Oid type;
  int32 typmod;
  zd::pg::compat::parse_type_string(type_arg, &type, &typmod);  // the caller's search_path
  m->new_type = type_text(type, typmod);
  // The expression is checked against the table with the new column in place (its type is
  // the target), so after the ADD COLUMN, in this transaction; an error undoes it all.
  m->up_sql = "";
  insert_migration(m);
  run_step(m, (const Step *) linitial(steps_for(m, StepPhase::Expand)));  // ADD COLUMN
  CommandCounterIncrement();
  Relation rel = relation_open(m->relid, AccessShareLock);
  const AttrNumber attnum = get_attnum(m->relid, m->new_column);
  m->up_sql = normalized_sql(rel, parse_row_expression(rel, fill, "fill_expr", nullptr, 0, attnum));
  relation_close(rel, AccessShareLock);
  save_expressions(m);
  run_expand_steps(m, 1);  // the CHECK, the fill trigger (now that the expression is known)
  PG_RETURN_INT64(m->id);
}
