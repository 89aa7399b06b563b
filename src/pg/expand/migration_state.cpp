// The state of expand/contract migrations: zd_migration (one row per migration) and
// zd_migration_object (what an active one owns).  The caller has no rights on them: they are
// written here, as their owner, through run_pinned_sql (search_path pinned, operators
// qualified), in the caller's transaction, so a call's DDL and its state change commit
// together.  Values only ever travel as parameters.
#include "pg/expand/expand.hpp"

#include "core/zd_error.hpp"
#include "pg/deferral.hpp"
#include "pg/pinned_sql.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg::expand {
namespace {

// The lock of a migration being moved: an advisory tag no SQL function can take (their last
// field is 1 or 2).  zd_migrations and the 55P03 below find its holder by this marker.
const uint16 kMigrationLockMarker = 0x7a6d;  // 'zm'

struct StateTables {
  const char *migration;  // qualified, quoted
  const char *object;
  Oid owner;
};

StateTables state_tables() {
  const Oid schema = extension_schema();
  const Oid relid = OidIsValid(schema) ? get_relname_relid("zd_migration", schema) : InvalidOid;
  if (!OidIsValid(relid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("zero_downtime: the extension's zd_migration table is missing"),
                    errhint("CREATE EXTENSION zero_downtime in this database.")));
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  const Oid owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  const char *s = get_namespace_name(schema);
  return {quote_qualified_identifier(s, "zd_migration"),
          quote_qualified_identifier(s, "zd_migration_object"), owner};
}

// `format` with {m} replaced by zd_migration's name and {o} by zd_migration_object's.
const char *with_tables(const char *format, const StateTables &t) {
  StringInfoData out;
  initStringInfo(&out);
  for (const char *p = format; *p != '\0'; p++) {
    if (p[0] == '{' && (p[1] == 'm' || p[1] == 'o') && p[2] == '}') {
      appendStringInfoString(&out, p[1] == 'm' ? t.migration : t.object);
      p += 2;
    } else {
      appendStringInfoChar(&out, *p);
    }
  }
  return out.data;
}

// Runs `format` ({m}: zd_migration, {o}: zd_migration_object) as the tables' owner.
int run_state_sql(const char *format, int nargs, Oid *types, Datum *values, const char *nulls,
                  bool read_only) {
  const StateTables t = state_tables();
  const char *sql = with_tables(format, t);
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "zero_downtime: SPI_connect failed");
  return run_pinned_sql(t.owner, sql, nargs, types, values, nulls, read_only);
}

const char *value_or_empty(HeapTuple row, TupleDesc desc, int column) {
  const char *v = SPI_getvalue(row, desc, column);
  return v != nullptr ? v : "";
}

void set_locktag(LOCKTAG *tag, int64 id) {
  SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) ((uint64) id >> 32), (uint32) id,
                       kMigrationLockMarker);
}

}  // namespace

bool is_rename(const Migration *m) { return strcmp(m->kind, "rename column") == 0; }

zd::MigrationKind kind_of(const Migration *m) {
  return zd::kind_from_name(m->kind).value_or(zd::MigrationKind::RenameColumn);
}

bool retires_old_column(const Migration *m) { return zd::kind_retires_old_column(kind_of(m)); }

const char *schema_name() {
  const Oid schema = extension_schema();
  if (!OidIsValid(schema))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_SCHEMA),
                    errmsg("zero_downtime: the extension is not installed in this database")));
  return quote_identifier(get_namespace_name(schema));
}

void insert_migration(Migration *m) {
  Oid types[13] = {OIDOID,  TEXTOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID,
                   TEXTOID, OIDOID,  TEXTOID, TEXTOID, INT8OID, BOOLOID};
  // The id first, so that the trigger and backfill names carry it.
  if (run_state_sql("SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence("
                    "'{m}', 'id'))",
                    0, nullptr, nullptr, nullptr, false) != SPI_OK_SELECT ||
      SPI_processed != 1)
    elog(ERROR, "zero_downtime: could not number the migration");
  bool isnull;
  m->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  SPI_finish();
  // (zz_: fires after the table's own BEFORE triggers, which see the row as the client wrote it)
  m->trigger_name = psprintf(retires_old_column(m) ? "zz_zd_sync_%lld" : "zz_zd_fill_%lld",
                             (long long) m->id);
  m->backfill_name = psprintf("zd_migration_%lld", (long long) m->id);
  Datum values[13] = {ObjectIdGetDatum(m->relid),
                      CStringGetTextDatum(m->kind),
                      CStringGetDatum(m->old_column),
                      CStringGetDatum(m->new_column),
                      CStringGetTextDatum(m->new_type),
                      CStringGetTextDatum(m->up_sql),
                      CStringGetTextDatum(m->down_sql),
                      m->version[0] ? CStringGetTextDatum(m->version) : (Datum) 0,
                      ObjectIdGetDatum(m->started_by),
                      CStringGetTextDatum(m->trigger_name),
                      CStringGetTextDatum(m->backfill_name),
                      Int64GetDatum(m->id),
                      BoolGetDatum(m->not_null)};
  // NAMEOID parameters want Name data.
  values[2] = DirectFunctionCall1(namein, CStringGetDatum(m->old_column));
  values[3] = DirectFunctionCall1(namein, CStringGetDatum(m->new_column));
  const char nulls[14] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', m->version[0] ? ' ' : 'n',
                          ' ', ' ', ' ', ' ', ' ', '\0'};
  if (run_state_sql("INSERT INTO {m} (relation, kind, old_column, new_column, new_type, up_sql, "
                    "down_sql, version, started_by, trigger_name, backfill_name, id, not_null) "
                    "VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                    "$11, $12, $13)",
                    13, types, values, nulls, false) != SPI_OK_INSERT)
    elog(ERROR, "zero_downtime: could not record the migration");
  SPI_finish();
  own_object(m, "column", m->old_column, nullptr);
  if (strcmp(m->old_column, m->new_column) != 0) own_object(m, "column", m->new_column, nullptr);
  own_object(m, "trigger", m->trigger_name, nullptr);
}

void save_expressions(const Migration *m) {
  Oid types[3] = {INT8OID, TEXTOID, TEXTOID};
  Datum values[3] = {Int64GetDatum(m->id), CStringGetTextDatum(m->up_sql),
                     CStringGetTextDatum(m->down_sql)};
  if (run_state_sql("UPDATE {m} SET up_sql = $2, down_sql = $3 "
                    "WHERE id OPERATOR(pg_catalog.=) $1",
                    3, types, values, nullptr, false) != SPI_OK_UPDATE)
    elog(ERROR, "zero_downtime: could not record the migration's expressions");
  SPI_finish();
}

void own_object(const Migration *m, const char *kind, const char *name, const char *source) {
  // A column another active migration owns: refused, naming it.
  if (strcmp(kind, "column") == 0) {
    zd::MigrationPhase phase;
    bool is_old;
    const int64 other = migration_owning_column(m->relid, name, &phase, &is_old);
    if (other != 0)
      ereport(ERROR,
              (errcode(ERRCODE_OBJECT_IN_USE),
               errmsg("zero_downtime: column %s of %s belongs to migration %lld",
                      quote_identifier(name), m->relation, (long long) other),
               errdetail("Migration %lld is %s; two migrations in flight never share a column.",
                         (long long) other, zd::phase_name(phase)),
               errhint("Finish it first: SELECT * FROM zd_migrations WHERE id = %lld shows "
                       "the next call.",
                       (long long) other)));
  }
  Oid types[5] = {OIDOID, TEXTOID, NAMEOID, INT8OID, NAMEOID};
  Datum values[5] = {ObjectIdGetDatum(m->relid), CStringGetTextDatum(kind),
                     DirectFunctionCall1(namein, CStringGetDatum(name)), Int64GetDatum(m->id),
                     source ? DirectFunctionCall1(namein, CStringGetDatum(source)) : (Datum) 0};
  const char nulls[6] = {' ', ' ', ' ', ' ', source ? ' ' : 'n', '\0'};
  if (run_state_sql("INSERT INTO {o} (relation, kind, name, migration, source) "
                    "VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5)",
                    5, types, values, nulls, false) != SPI_OK_INSERT)
    elog(ERROR, "zero_downtime: could not record what the migration owns");
  SPI_finish();
}

Migration *load_migration(int64 id) {
  MemoryContext outer = CurrentMemoryContext;
  Oid types[1] = {INT8OID};
  Datum values[1] = {Int64GetDatum(id)};
  if (run_state_sql("SELECT id, relation::pg_catalog.oid, kind, old_column, new_column, "
                    "new_type, up_sql, down_sql, version, phase, started_by, trigger_name, "
                    "backfill_name, not_null FROM {m} WHERE id OPERATOR(pg_catalog.=) $1",
                    1, types, values, nullptr, true) != SPI_OK_SELECT)
    elog(ERROR, "zero_downtime: could not read the migration");
  if (SPI_processed != 1) {
    SPI_finish();
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("zero_downtime: there is no migration %lld", (long long) id),
                    errhint("SELECT id, relation, phase FROM zd_migrations lists them.")));
  }
  HeapTuple row = SPI_tuptable->vals[0];
  TupleDesc desc = SPI_tuptable->tupdesc;
  bool isnull;
  // Copied out of SPI's memory (freed by SPI_finish): allocated in the caller's context.
  MemoryContextSwitchTo(outer);
  Migration *m = (Migration *) palloc(sizeof(Migration));
  m->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
  m->relid = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
  m->kind = value_or_empty(row, desc, 3);
  m->old_column = value_or_empty(row, desc, 4);
  m->new_column = value_or_empty(row, desc, 5);
  m->new_type = value_or_empty(row, desc, 6);
  m->up_sql = value_or_empty(row, desc, 7);
  m->down_sql = value_or_empty(row, desc, 8);
  m->version = value_or_empty(row, desc, 9);
  m->phase = zd::phase_from_name(value_or_empty(row, desc, 10)).value_or(zd::MigrationPhase::Aborted);
  m->started_by = DatumGetObjectId(SPI_getbinval(row, desc, 11, &isnull));
  m->trigger_name = value_or_empty(row, desc, 12);
  m->backfill_name = value_or_empty(row, desc, 13);
  m->not_null = DatumGetBool(SPI_getbinval(row, desc, 14, &isnull));
  SPI_finish();
  const char *name = get_rel_name(m->relid);
  const Oid schema = get_rel_namespace(m->relid);
  m->relation = name != nullptr ? quote_qualified_identifier(get_namespace_name(schema), name)
                                : psprintf("(dropped table %u)", m->relid);
  return m;
}

void save_phase(const Migration *m, zd::MigrationPhase phase) {
  const char *stamp = phase == zd::MigrationPhase::Migrating ? "migrate_at"
                      : phase == zd::MigrationPhase::Ready   ? "ready_at"
                                                             : "finished_at";
  Oid types[2] = {INT8OID, TEXTOID};
  Datum values[2] = {Int64GetDatum(m->id), CStringGetTextDatum(zd::phase_name(phase))};
  const char *sql = psprintf(
      "UPDATE {m} SET phase = $2, %s = pg_catalog.now(), updated_at = pg_catalog.now() "
      "WHERE id OPERATOR(pg_catalog.=) $1",
      stamp);
  if (run_state_sql(sql, 2, types, values, nullptr, false) != SPI_OK_UPDATE)
    elog(ERROR, "zero_downtime: could not record the migration's phase");
  SPI_finish();
  if (!zd::phase_is_active(phase)) {
    if (run_state_sql("DELETE FROM {o} WHERE migration OPERATOR(pg_catalog.=) $1", 1, types,
                      values, nullptr, false) != SPI_OK_DELETE)
      elog(ERROR, "zero_downtime: could not release what the migration owned");
    SPI_finish();
  }
}

List *owned_objects(const Migration *m, const char *kind) {
  MemoryContext outer = CurrentMemoryContext;
  Oid types[2] = {INT8OID, TEXTOID};
  Datum values[2] = {Int64GetDatum(m->id), CStringGetTextDatum(kind)};
  if (run_state_sql("SELECT name, source FROM {o} WHERE migration OPERATOR(pg_catalog.=) $1 "
                    "AND kind OPERATOR(pg_catalog.=) $2 ORDER BY name",
                    2, types, values, nullptr, true) != SPI_OK_SELECT)
    elog(ERROR, "zero_downtime: could not read what the migration owns");
  List *out = NIL;
  MemoryContextSwitchTo(outer);  // what we return outlives SPI_finish
  for (uint64 i = 0; i < SPI_processed; i++) {
    const char **pair = (const char **) palloc(2 * sizeof(char *));
    pair[0] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
    pair[1] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
    out = lappend(out, pair);
  }
  SPI_finish();
  return out;
}

int64 migration_owning_column(Oid relid, const char *column, zd::MigrationPhase *phase,
                              bool *is_old_column) {
  Oid types[2] = {OIDOID, NAMEOID};
  Datum values[2] = {ObjectIdGetDatum(relid), DirectFunctionCall1(namein, CStringGetDatum(column))};
  // (Only a rename's or a change of type's old column is retired: the guard lets DROP COLUMN
  // of it run the contract.  The one column of a set-not-null or add-column migration is not.)
  if (run_state_sql("SELECT m.id, m.phase, m.old_column OPERATOR(pg_catalog.=) $2 "
                    "AND m.kind OPERATOR(pg_catalog.=) ANY ('{rename column,change type}') "
                    "FROM {o} o JOIN {m} m ON m.id OPERATOR(pg_catalog.=) o.migration "
                    "WHERE o.relation OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
                    "AND o.kind OPERATOR(pg_catalog.=) 'column' "
                    "AND o.name OPERATOR(pg_catalog.=) $2",
                    2, types, values, nullptr, true) != SPI_OK_SELECT)
    elog(ERROR, "zero_downtime: could not read what migrations own");
  int64 id = 0;
  if (SPI_processed > 0) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[0];
    id = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    *phase = zd::phase_from_name(SPI_getvalue(row, SPI_tuptable->tupdesc, 2))
                 .value_or(zd::MigrationPhase::Aborted);
    *is_old_column = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
  }
  SPI_finish();
  return id;
}

void lock_migration(int64 id) {
  LOCKTAG tag;
  set_locktag(&tag, id);
  if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL) return;
  // Who holds it: named, so the user knows whom to wait for.
  const char *holder = "another session";
  const char *facts = "";
  MemoryContext outer = CurrentMemoryContext;
  if (SPI_connect() == SPI_OK_CONNECT) {
    Oid types[3] = {OIDOID, OIDOID, OIDOID};
    Datum values[3] = {ObjectIdGetDatum(MyDatabaseId),
                       ObjectIdGetDatum((uint32) ((uint64) id >> 32)),
                       ObjectIdGetDatum((uint32) id)};
    if (run_pinned_sql(InvalidOid,
                       psprintf("SELECT l.pid, a.application_name, a.query, a.usename "
                                "FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity "
                                "a ON a.pid OPERATOR(pg_catalog.=) l.pid "
                                "WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted "
                                "AND l.database OPERATOR(pg_catalog.=) $1 "
                                "AND l.classid OPERATOR(pg_catalog.=) $2 "
                                "AND l.objid OPERATOR(pg_catalog.=) $3 "
                                "AND l.objsubid OPERATOR(pg_catalog.=) %d",
                                (int) kMigrationLockMarker),
                       3, types, values, nullptr, true, 1) == SPI_OK_SELECT &&
        SPI_processed == 1) {
      HeapTuple row = SPI_tuptable->vals[0];
      TupleDesc desc = SPI_tuptable->tupdesc;
      MemoryContextSwitchTo(outer);
      const char *app = SPI_getvalue(row, desc, 2);
      const char *query = SPI_getvalue(row, desc, 3);
      const char *user = SPI_getvalue(row, desc, 4);
      holder = psprintf("another session (application_name '%s')", app ? app : "");
      facts = psprintf("Process %s of role %s holds it%s%s.", SPI_getvalue(row, desc, 1),
                       user ? user : "?", query ? ", its last statement: " : "",
                       query ? query : "");
    }
    SPI_finish();
  }
  ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                  errmsg("zero_downtime: migration %lld is being moved by %s", (long long) id,
                         holder),
                  errdetail("%s One session at a time moves a migration; the other call holds "
                            "it until its transaction ends.",
                            facts),
                  errhint("Wait for that transaction to end, then look at SELECT * FROM "
                          "zd_migrations WHERE id = %lld before calling again.",
                          (long long) id)));
}

zd::MigrationPhase check_transition(const Migration *m, zd::MigrationCall call) {
  zd::MigrationPhase to;
  const char *why = nullptr;
  {  // (the C++ result is gone before any ereport)
    const zd::Transition t = zd::transition(m->phase, call, m->id, kind_of(m));
    to = t.to;
    if (!t.legal) why = pstrdup(t.why.c_str());
  }
  if (why != nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("zero_downtime: %s(%lld) is not possible now: migration %lld is %s",
                    zd::call_name(call), (long long) m->id, (long long) m->id,
                    zd::phase_name(m->phase)),
             errdetail("Migration %lld %s %s on %s.", (long long) m->id, m->kind,
                       quote_identifier(m->old_column), m->relation),
             errhint("%s", why)));
  return to;
}

}  // namespace zd::pg::expand
