// zd_migrate, zd_migration_ready, zd_contract, zd_abort: move a migration, each in the caller's
// transaction, after taking the migration's lock (a second session moving it gets 55P03 naming
// this one) and checking the move with the core's transition rules (an illegal one is refused,
// 55000, with the call that is legal now).  zd_migrate only queues the long work (the
// deferred-work worker runs it after the transaction commits, never if it aborts); contract and
// abort run their few brief DDL statements here, lock capped.  Also zd_plan (every step, its
// lock, whether it is done; runs nothing) and zd_migration_next (for the zd_migrations view).
#include "pg/expand/expand.hpp"

#include "pg/boundary.hpp"
#include "pg/trusted_code.hpp"
#include "pg/deferral.hpp"
#include "pg/pinned_sql.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/tuplestore.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/regproc.h"
#include "utils/varlena.h"
#include "catalog/pg_index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
}

namespace zd::pg::expand {
namespace {

int64 id_arg(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: migration must not be NULL"),
                    errhint("SELECT id, relation, phase FROM zd_migrations lists them.")));
  return PG_GETARG_INT64(0);
}

void check_caller_may_move(const Migration *m) {
  if (get_rel_name(m->relid) == nullptr || !caller_owns_relation(m->relid))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("zero_downtime: must be owner of table %s to move migration %lld",
                           m->relation, (long long) m->id)));
}

// Checks that the caller may move it (owns its table: every step needs that), then locks it
// and loads it again (a session that held the lock may have moved it).  The check comes
// first, as PostgreSQL checks ownership before it locks: a role that may not move the
// migration never takes its lock, nor learns who holds it.
Migration *take(FunctionCallInfo fcinfo) {
  const int64 id = id_arg(fcinfo);
  check_caller_may_move(load_migration(id));
  lock_migration(id);
  Migration *m = load_migration(id);
  check_caller_may_move(m);
  return m;
}

void run_steps(const Migration *m, StepPhase phase) {
  List *steps = steps_for(m, phase);
  ListCell *lc;
  foreach (lc, steps) run_step(m, (const Step *) lfirst(lc));
}

const char *migrate_statement(const Migration *m) {
  return psprintf("SELECT zd_migrate(%lld)", (long long) m->id);
}

// The indexes the migrate steps build: each must be a valid index of the migration's table
// before the migration is ready (a build interrupted leaves an invalid one; a relation of
// someone else's under the copy's name is no copy).  Returns what is wrong with the first that
// is not, or nullptr.
const char *unfinished_index(const Migration *m) {
  List *steps = steps_for(m, StepPhase::Migrate);
  ListCell *lc;
  foreach (lc, steps) {
    const Step *s = (const Step *) lfirst(lc);
    if (s->index == nullptr) continue;
    List *names = ZD_QUALIFIED_NAME_LIST(s->index);
    const char *name = strVal(llast(names));
    const Oid schema = get_rel_namespace(m->relid);
    const Oid index = get_relname_relid(name, schema);
    const char *quoted = s->index;
    if (!OidIsValid(index)) return psprintf("index %s is missing", quoted);
    HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
    if (!HeapTupleIsValid(tup) || ((Form_pg_index) GETSTRUCT(tup))->indrelid != m->relid) {
      if (HeapTupleIsValid(tup)) ReleaseSysCache(tup);
      return psprintf("the name of its index copy %s is taken by another relation (not an "
                      "index of %s): rename or drop that relation",
                      quoted, m->relation);
    }
    const bool valid = ((Form_pg_index) GETSTRUCT(tup))->indisvalid;
    ReleaseSysCache(tup);
    if (!valid) return psprintf("index %s is invalid (its build was interrupted)", quoted);
  }
  return nullptr;
}

// Whether the migration's backfill finished (its row in zd_backfill_state, for the caller's role).
bool backfill_done(const Migration *m) {
  const Oid schema = extension_schema();
  const Oid table = get_relname_relid("zd_backfill_state", schema);
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(table));
  const Oid owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "zero_downtime: SPI_connect failed");
  Oid types[2] = {OIDOID, TEXTOID};
  Datum values[2] = {ObjectIdGetDatum(GetUserId()), CStringGetTextDatum(m->backfill_name)};
  const bool done =
      run_pinned_sql(owner,
                     psprintf("SELECT FROM %s WHERE role OPERATOR(pg_catalog.=) $1 AND name "
                              "OPERATOR(pg_catalog.=) $2 AND state OPERATOR(pg_catalog.=) 'done'",
                              quote_qualified_identifier(get_namespace_name(schema),
                                                         "zd_backfill_state")),
                     2, types, values, nullptr, true, 1) == SPI_OK_SELECT &&
      SPI_processed == 1;
  SPI_finish();
  return done;
}

// The work zd_migrate queued and that has not finished: skipped (the migration was aborted).
// A step the worker is running meanwhile (a backfill of the column the abort drops) then fails
// or ends, and stays skipped: deferral_worker.cpp's finish() leaves a skipped row as it is, so
// no zd_deferred_wait() reports the abort as a failure.
void skip_queued_work(const Migration *m) {
  Oid owner;
  const char *table = deferred_table(&owner);
  if (table == nullptr) return;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "zero_downtime: SPI_connect failed");
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(migrate_statement(m))};
  run_pinned_sql(owner,
                 psprintf("UPDATE %s SET state = 'skipped', finished_at = pg_catalog.now(), "
                          "error = 'the migration was aborted' "
                          "WHERE statement OPERATOR(pg_catalog.=) $1 "
                          "AND state OPERATOR(pg_catalog.=) ANY "
                          "('{pending,running}'::pg_catalog.text[])",
                          table),
                 1, types, values, nullptr, false);
  SPI_finish();
}

// A set-not-null's or add-column's NOT NULL check: validated (its VALIDATE step ran), else
// what is wrong, or nullptr.
const char *unvalidated_check(const Migration *m) {
  if (retires_old_column(m) || !m->not_null) return nullptr;
  const char *name = not_null_check_name(m);
  const Oid check = get_relation_constraint_oid(m->relid, name, true);
  if (!OidIsValid(check)) return psprintf("its check %s is missing", quote_identifier(name));
  HeapTuple tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(check));
  const bool valid = HeapTupleIsValid(tup) && ((Form_pg_constraint) GETSTRUCT(tup))->convalidated;
  if (HeapTupleIsValid(tup)) ReleaseSysCache(tup);
  return valid ? nullptr
               : psprintf("its check %s is not validated yet (its VALIDATE failed or has not "
                          "run: a row may still hold NULL)",
                          quote_identifier(name));
}

// Whether zd_migrate runs a backfill for it: always for a rename and a change of type; for
// the other kinds, when it has a fill expression.
bool has_backfill(const Migration *m) { return retires_old_column(m) || m->up_sql[0] != '\0'; }

// What zd_migrate queues, in words.
const char *queued_work(const Migration *m) {
  if (retires_old_column(m)) return "the backfill, then the index and constraint copies";
  if (!m->not_null) return "the backfill";
  return has_backfill(m) ? "the backfill, then the VALIDATE" : "the VALIDATE";
}

const char *complete_message(const Migration *m) {
  switch (kind_of(m)) {
    case zd::MigrationKind::RenameColumn:
      return psprintf("migration %lld complete: %s.%s is gone, %s stays", (long long) m->id,
                      m->relation, quote_identifier(m->old_column),
                      quote_identifier(m->new_column));
    case zd::MigrationKind::ChangeType:
      return psprintf("migration %lld complete: %s.%s is of type %s", (long long) m->id,
                      m->relation, quote_identifier(m->old_column), m->new_type);
    case zd::MigrationKind::SetNotNull:
      return psprintf("migration %lld complete: %s.%s is NOT NULL", (long long) m->id,
                      m->relation, quote_identifier(m->new_column));
    case zd::MigrationKind::AddColumn:
      return psprintf("migration %lld complete: %s.%s is an ordinary column%s; writes that do "
                      "not name it no longer compute it",
                      (long long) m->id, m->relation, quote_identifier(m->new_column),
                      m->not_null ? ", NOT NULL" : "");
  }
  return "";
}

const char *abort_message(const Migration *m) {
  switch (kind_of(m)) {
    case zd::MigrationKind::SetNotNull:
      return psprintf("migration %lld aborted: %s.%s may hold NULL again; its check %s",
                      (long long) m->id, m->relation, quote_identifier(m->new_column),
                      m->up_sql[0] ? "and its fill trigger are gone (rows the backfill filled "
                                     "keep the fill value)"
                                   : "is gone");
    case zd::MigrationKind::AddColumn:
      return psprintf("migration %lld aborted: %s.%s and its trigger are gone (the column was "
                      "new: no value that existed before the expand is lost; what was written "
                      "to it since went with it)",
                      (long long) m->id, m->relation, quote_identifier(m->new_column));
    default:
      return psprintf("migration %lld aborted: %s.%s and the trigger are gone; %s kept every "
                      "write",
                      (long long) m->id, m->relation, quote_identifier(m->new_column),
                      quote_identifier(m->old_column));
  }
}

}  // namespace

void contract_by_drop(int64 id, void (*run_drop)(void *), void *arg) {
  lock_migration(id);
  Migration *m = load_migration(id);
  const zd::MigrationPhase to = check_transition(m, zd::MigrationCall::Contract);
  check_contract_evidence(m, false);
  usage_forget_at_commit(m);
  ereport(NOTICE, (errmsg("zero_downtime: DROP COLUMN %s completes migration %lld: its contract "
                          "runs (SELECT zd_contract(%lld))",
                          quote_identifier(m->old_column), (long long) m->id, (long long) m->id)));
  const char *drop = psprintf("ALTER TABLE %s DROP COLUMN %s", m->relation,
                              quote_identifier(m->old_column));
  List *steps = steps_for(m, StepPhase::Contract);  // (read before the drop changes the catalog)
  ListCell *lc;
  foreach (lc, steps) {
    const Step *s = (const Step *) lfirst(lc);
    if (strcmp(s->sql, drop) == 0)
      run_drop(arg);
    else
      run_step(m, s);
  }
  save_phase(m, to);
}

}  // namespace zd::pg::expand

ZD_SQL_FUNCTION(zd_migrate) {
  using namespace zd::pg::expand;
  Migration *m = take(fcinfo);
  const zd::MigrationPhase to = check_transition(m, zd::MigrationCall::Migrate);
  if (m->phase == zd::MigrationPhase::Ready)
    PG_RETURN_TEXT_P(cstring_to_text(
        retires_old_column(m)
            ? psprintf("migration %lld is ready: nothing to migrate; SELECT zd_contract(%lld) "
                       "once no deployed code uses %s",
                       (long long) m->id, (long long) m->id, quote_identifier(m->old_column))
            : psprintf("migration %lld is ready: nothing to migrate; SELECT zd_contract(%lld) "
                       "next",
                       (long long) m->id, (long long) m->id)));
  List *steps = steps_for(m, StepPhase::Migrate);
  const char **sql = (const char **) palloc(list_length(steps) * sizeof(char *));
  // An index copy's build first drops the INVALID index an interrupted build left (a cancel,
  // the worker terminated, a crash), each time it runs: IF NOT EXISTS would keep it.
  const char **drop_invalid = (const char **) palloc(list_length(steps) * sizeof(char *));
  int n = 0;
  ListCell *lc;
  foreach (lc, steps) {
    drop_invalid[n] = ((const Step *) lfirst(lc))->index;
    sql[n++] = ((const Step *) lfirst(lc))->sql;
  }
  // Queued with search_path pinned: the worker runs the steps under the search_path they
  // were made with, not under one where a schema before pg_catalog could shadow an operator.
  const int level = pin_search_path();
  zd::pg::queue_deferred("lock-cap", m->relation, migrate_statement(m), sql, n, nullptr,
                         drop_invalid);
  restore_search_path(level);
  save_phase(m, to);
  PG_RETURN_TEXT_P(cstring_to_text(psprintf(
      "migration %lld: %d steps queued to run after this transaction commits (%s); "
      "CALL zd_deferred_wait() waits for them, SELECT * FROM zd_migrations WHERE id = %lld "
      "shows where they are",
      (long long) m->id, n, queued_work(m), (long long) m->id)));
}

// The last queued step of zd_migrate: ready once the backfill is done and every index copy is
// valid (called early, by hand, it refuses).
ZD_SQL_FUNCTION(zd_migration_ready) {
  using namespace zd::pg::expand;
  Migration *m = take(fcinfo);
  const zd::MigrationPhase to = check_transition(m, zd::MigrationCall::MarkReady);
  if (m->phase == zd::MigrationPhase::Ready) PG_RETURN_VOID();
  const char *index = unfinished_index(m);
  if (index == nullptr) index = unvalidated_check(m);
  if (index != nullptr || (has_backfill(m) && !backfill_done(m)))
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("zero_downtime: migration %lld is not ready: %s", (long long) m->id,
                    index != nullptr
                        ? index
                        : psprintf("its backfill %s has not finished", m->backfill_name)),
             errhint("SELECT zd_migrate(%lld) runs what is left.", (long long) m->id)));
  save_phase(m, to);
  PG_RETURN_VOID();
}

ZD_SQL_FUNCTION(zd_contract) {
  using namespace zd::pg::expand;
  Migration *m = take(fcinfo);
  const zd::MigrationPhase to = check_transition(m, zd::MigrationCall::Contract);
  // (Only a rename's and a change of type's contract drops a column old code may use.)
  if (retires_old_column(m)) {
    check_contract_evidence(m, !PG_ARGISNULL(1) && PG_GETARG_BOOL(1));
    usage_forget_at_commit(m);  // (read before the steps drop the old column)
  }
  run_steps(m, StepPhase::Contract);
  save_phase(m, to);
  PG_RETURN_TEXT_P(cstring_to_text(complete_message(m)));
}

ZD_SQL_FUNCTION(zd_abort) {
  using namespace zd::pg::expand;
  Migration *m = take(fcinfo);
  const zd::MigrationPhase to = check_transition(m, zd::MigrationCall::Abort);
  if (retires_old_column(m)) usage_forget_at_commit(m);
  skip_queued_work(m);
  run_steps(m, StepPhase::Abort);
  save_phase(m, to);
  PG_RETURN_TEXT_P(cstring_to_text(abort_message(m)));
}

// zd_plan(migration): every step from expand to contract, and abort's; runs nothing.
ZD_SQL_FUNCTION(zd_plan) {
  using namespace zd::pg::expand;
  Migration *m = load_migration(id_arg(fcinfo));
  // Its steps show the table's index and constraint definitions: for its owner, as the moves.
  if (get_rel_name(m->relid) != nullptr && !zd::pg::caller_owns_relation(m->relid))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("zero_downtime: must be owner of table %s to see the plan of "
                           "migration %lld",
                           m->relation, (long long) m->id)));
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  if (!zd::phase_is_active(m->phase)) return (Datum) 0;  // over: no step left
  const StepPhase phases[] = {StepPhase::Expand, StepPhase::Migrate, StepPhase::Contract,
                              StepPhase::Abort};
  int number = 0;
  for (StepPhase phase : phases) {
    List *steps = steps_for(m, phase);
    const bool done = phase == StepPhase::Expand ||
                      (phase == StepPhase::Migrate && m->phase == zd::MigrationPhase::Ready);
    ListCell *lc;
    foreach (lc, steps) {
      const Step *s = (const Step *) lfirst(lc);
      const char *call =
          phase == StepPhase::Expand
              ? zd::expand_call_name(kind_of(m))
              : psprintf("SELECT zd_%s(%lld)", step_phase_name(phase), (long long) m->id);
      Datum values[7] = {
          Int32GetDatum(++number),
          CStringGetTextDatum(step_phase_name(phase)),
          CStringGetTextDatum(call),
          CStringGetTextDatum(s->sql),
          CStringGetTextDatum(s->lock == zd::Lock::None ? "none" : zd::lock_name(s->lock)),
          CStringGetTextDatum(s->lock == zd::Lock::None
                                  ? "nothing"
                                  : psprintf("%s, for %s", zd::lock_blocks(s->lock), s->duration)),
          BoolGetDatum(done)};
      bool nulls[7] = {false, false, false, false, false, false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  }
  return (Datum) 0;
}

// zd_migration_next(migration, phase, kind): the next call and what it waits for (the core
// decides).
ZD_SQL_FUNCTION(zd_migration_next) {
  const int64 id = PG_GETARG_INT64(0);
  const char *phase_text = TextDatumGetCString(PG_GETARG_DATUM(1));
  const char *kind_text = PG_NARGS() > 2 ? TextDatumGetCString(PG_GETARG_DATUM(2)) : "";
  const char *call = "";
  const char *note = "";
  {
    const std::optional<zd::MigrationPhase> phase = zd::phase_from_name(phase_text);
    if (phase.has_value()) {
      const zd::NextStep next = zd::next_step(
          *phase, id, zd::kind_from_name(kind_text).value_or(zd::MigrationKind::RenameColumn));
      call = pstrdup(next.sql.c_str());
      note = pstrdup(next.note.c_str());
    }
  }
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "zd_migration_next: return type must be a row type");
  Datum values[2] = {CStringGetTextDatum(call), CStringGetTextDatum(note)};
  bool nulls[2] = {call[0] == '\0', false};
  return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}
