// zero_downtime.orm_renames = migrate: an ORM's own RENAME COLUMN, or rewriting ALTER COLUMN
// TYPE, of a live table starts an expand/contract migration in its place, so that the
// generated migration file runs unchanged.  The guard's decision says when (core
// rules::becomes_migration: the statement's one change, which rename-column or
// alter-column-type would refuse); this runs zd_expand_rename_column or zd_expand_change_type
// of the extension's schema, through fmgr (no SQL parsed), with the caller's rights and in
// the caller's transaction: a migration tool's transaction that aborts takes it back.
//
// What the application sees: the statement succeeds; both names work until the contract (the
// sync trigger keeps the columns equal), so the new code and the ORM's next migrations that
// name the new column work, and so does the old code still running.  A type change keeps the
// name on the old column (the new type is on <column>_zd_new) until the contract swaps them.
#include "pg/expand/expand.hpp"

#include "core/facts.hpp"
#include "core/sql_normalize.hpp"
#include "pg/compat.h"
#include "pg/deferral.hpp"
#include "pg/sql_tokens.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace zd::pg::expand {
namespace {

// The extension's function `name` (of argument types `types`), checked for EXECUTE by the
// caller.
Oid expand_function(const char *name, int nargs, const Oid *types) {
  const Oid schema = extension_schema();
  if (!OidIsValid(schema))
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("zero_downtime: zero_downtime.orm_renames = migrate needs the "
                           "extension in this database"),
                    errhint("CREATE EXTENSION zero_downtime; or SET zero_downtime.orm_renames "
                            "= off to have the statement refused as before.")));
  List *qualified = list_make2(makeString(get_namespace_name(schema)), makeString(pstrdup(name)));
  const Oid function = LookupFuncName(qualified, nargs, types, false);
  if (ZD_PROC_ACLCHECK(function, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
    aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, name);
  return function;
}

// Calls `function` with `n` leading arguments (nullptr: NULL); the rest are NULL (their
// defaults are all NULL).
int64 call_expand(Oid function, const Datum *args, const bool *nulls, int n) {
  const int nargs = get_func_nargs(function);
  FmgrInfo flinfo;
  fmgr_info(function, &flinfo);
  LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
  InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, nullptr, nullptr);
  for (int i = 0; i < nargs; i++) {
    fcinfo->args[i].value = i < n ? args[i] : (Datum) 0;
    fcinfo->args[i].isnull = i < n ? nulls[i] : true;
  }
  const Datum result = FunctionCallInvoke(fcinfo);
  if (fcinfo->isnull) elog(ERROR, "zero_downtime: %s returned NULL", get_func_name(function));
  return DatumGetInt64(result);
}

// The USING expression of the statement's one ALTER COLUMN TYPE, as written (its comments
// dropped), or nullptr.  It is the subcommand's last clause, so it runs to the end of the
// statement, where a comment may follow it ("USING (c * 10)::bigint -- widen"): taken into the
// trigger's expression, it would swallow what comes after.
const char *using_text(const char *sql) {
  List *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
  if (list_length(parsed) != 1) return nullptr;
  Node *stmt = linitial_node(RawStmt, parsed)->stmt;
  if (!IsA(stmt, AlterTableStmt) || list_length(((AlterTableStmt *) stmt)->cmds) != 1)
    return nullptr;
  AlterTableCmd *cmd = linitial_node(AlterTableCmd, ((AlterTableStmt *) stmt)->cmds);
  if (cmd->subtype != AT_AlterColumnType || cmd->def == nullptr || !IsA(cmd->def, ColumnDef))
    return nullptr;
  Node *expr = ((ColumnDef *) cmd->def)->raw_default;
  if (expr == nullptr) return nullptr;
  int from = exprLocation(expr);
  if (from < 0) return nullptr;
  // (The expression's location is its leftmost token's; parentheses before it are its own.)
  while (from > 0 && (sql[from - 1] == '(' || isspace((unsigned char) sql[from - 1]))) from--;
  // (The journal's normalizer drops comments, each one a space, knowing PostgreSQL's quoting.)
  const size_t n = strlen(sql + from);
  char *out = (char *) palloc(zd::normalized_capacity(n));
  size_t len = zd::normalize_statement(sql + from, n, out, false, ZD_STANDARD_CONFORMING_STRINGS);
  while (len > 0 && (out[len - 1] == ';' || out[len - 1] == ' ')) len--;
  out[len] = '\0';
  return len > 0 ? out : nullptr;
}

}  // namespace

void run_as_migration(const zd::StatementFacts *facts) {
  const zd::Operation *op = nullptr;
  for (const zd::Operation &each : facts->ops)
    if (!each.further_lock) op = &each;
  if (op == nullptr) elog(ERROR, "zero_downtime: no change to migrate");
  const bool rename = op->kind == zd::OpKind::RenameColumn;
  const char *column = unquoted_identifier(op->column.c_str());
  int64 id;
  const char *what;
  if (rename) {
    const char *new_name = unquoted_identifier(op->new_name.c_str());
    NameData old_name_data, new_name_data;
    namestrcpy(&old_name_data, column);
    namestrcpy(&new_name_data, new_name);
    const Datum args[] = {ObjectIdGetDatum(op->table.oid), NameGetDatum(&old_name_data),
                          NameGetDatum(&new_name_data)};
    const bool nulls[] = {false, false, false};
    const Oid types[] = {REGCLASSOID, NAMEOID, NAMEOID, TEXTOID};
    id = call_expand(expand_function("zd_expand_rename_column", 4, types), args, nulls, 3);
    what = psprintf("RENAME COLUMN %s TO %s", op->column.c_str(), op->new_name.c_str());
  } else {
    // up: the USING expression, else the cast the ALTER would apply; down: the cast back
    // (the bare column name in it is the new value).
    const char *using_sql = using_text(facts->sql.c_str());
    const char *up = using_sql != nullptr
                         ? using_sql
                         : psprintf("%s::%s", op->column.c_str(), op->new_column_type.c_str());
    const char *down = psprintf("%s::%s", op->column.c_str(), op->column_type.c_str());
    NameData column_data;
    namestrcpy(&column_data, column);
    const Datum args[] = {ObjectIdGetDatum(op->table.oid), NameGetDatum(&column_data),
                          CStringGetTextDatum(op->new_column_type.c_str()),
                          CStringGetTextDatum(up), CStringGetTextDatum(down)};
    const bool nulls[] = {false, false, false, false, false};
    const Oid types[] = {REGCLASSOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, NAMEOID};
    id = call_expand(expand_function("zd_expand_change_type", 7, types), args, nulls, 5);
    what = psprintf("ALTER COLUMN %s TYPE %s", op->column.c_str(), op->new_column_type.c_str());
  }
  const char *schema = schema_name();
  ereport(NOTICE,
          (errmsg("zero_downtime: %s on %s started expand/contract migration %lld in its place "
                  "(zero_downtime.orm_renames = migrate)",
                  what, op->table.name.c_str(), (long long) id),
           errdetail(rename ? "Both names work until its contract: a trigger keeps %s and %s "
                              "equal, so the code using either keeps working."
                            : "Until its contract %s keeps its type and the new type is on %s, "
                              "kept equal by a trigger; the contract gives it the name.",
                     op->column.c_str(),
                     rename ? op->new_name.c_str()
                            : quote_identifier(psprintf("%s_zd_new", column))),
           errhint("Next: SELECT %s.zd_migrate(%lld); then, once no running code uses the old "
                   "column: SELECT %s.zd_contract(%lld).  SELECT * FROM %s.zd_migrations WHERE "
                   "id = %lld shows where it is; SELECT %s.zd_abort(%lld) undoes it.",
                   schema, (long long) id, schema, (long long) id, schema, (long long) id,
                   schema, (long long) id)));
}

}  // namespace zd::pg::expand
