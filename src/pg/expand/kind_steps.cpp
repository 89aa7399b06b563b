// The steps of the two kinds that retire no column (steps.cpp has a rename's and a change of
// type's): making a column NOT NULL, and adding a column filled from an expression.  Made
// under the pinned search_path (steps_for), so the expression text (stored qualified) and the
// names mean the same when the worker runs a step later.
//
//   set not null (column c, fill f optional)
//     expand   CHECK (c IS NOT NULL) NOT VALID (new writes must satisfy it from now on; old
//              rows are not scanned); [f] the fill trigger (a write leaving c NULL gets f)
//     migrate  [f] zd_backfill c = f where c IS NULL; VALIDATE the CHECK (a scan under SHARE
//              UPDATE EXCLUSIVE: reads and writes go on); zd_migration_ready
//     contract [f] drop the trigger; SET NOT NULL (the validated CHECK proves it: no scan);
//              drop the CHECK
//     abort    [f] drop the trigger; drop the CHECK (rows the backfill filled keep their value)
//   add column (column c of type t, expression e, not_null)
//     expand   ADD COLUMN c t (no default: no rewrite); [not_null] CHECK (c IS NOT NULL) NOT
//              VALID; the fill trigger (a write that gives c no value gets e)
//     migrate  zd_backfill c = e where c IS NULL; [not_null] VALIDATE; zd_migration_ready
//     contract drop the trigger; [not_null] SET NOT NULL, drop the CHECK
//     abort    drop the trigger and the column (it is new: no value that existed before the
//              expand is lost; what was written to it since goes with it)
//
// PostgreSQL 18+ (compat.h, ZD_NOT_NULL_NOT_VALID): the helper is the column's own NOT NULL
// constraint, added NOT VALID and validated; contract then has no NOT NULL to set, only the
// constraint's name to give back (the one PostgreSQL would have chosen).
#include "pg/expand/expand.hpp"
#include "pg/compat.h"

extern "C" {
#include "catalog/pg_constraint.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace zd::pg::expand {

const char *not_null_check_name(const Migration *m) {
  return copy_name(psprintf("%s_not_null", m->new_column), m->id);
}

namespace {

// The name PostgreSQL gives a column's NOT NULL constraint (<table>_<column>_not_null, made
// unique in the schema), for the helper at contract on 18+.
const char *native_not_null_name(const Migration *m) {
  return ChooseConstraintName(get_rel_name(m->relid), m->new_column, "not_null",
                              get_rel_namespace(m->relid), NIL);
}

const char *kScan = "the scan (reads and writes go on; other DDL and VACUUM wait)";

const char *fill_trigger_sql(const Migration *m, bool add) {
  return psprintf(
      "CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION "
      "%s.zd_fill_trigger(%s, %s, %s, %s)",
      quote_identifier(m->trigger_name), m->relation, schema_name(),
      quote_literal_cstr(psprintf("%lld", (long long) m->id)), quote_literal_cstr(m->new_column),
      quote_literal_cstr(m->up_sql), quote_literal_cstr(add ? "when not written" : "when null"));
}

}  // namespace

List *fill_kind_steps(const Migration *m, StepPhase phase) {
  const bool add = kind_of(m) == zd::MigrationKind::AddColumn;
  const bool fills = m->up_sql[0] != '\0';
  const char *a = psprintf("ALTER TABLE %s ", m->relation);
  const char *col = quote_identifier(m->new_column);
  const char *check = quote_identifier(not_null_check_name(m));
  const char *drop_trigger =
      psprintf("DROP TRIGGER %s ON %s", quote_identifier(m->trigger_name), m->relation);
  List *out = NIL;
  auto add_step = [&](const char *sql, zd::Lock lock, const char *duration) {
    out = lappend(out, make_step(phase, sql, lock, duration));
  };
  switch (phase) {
    case StepPhase::Expand:
      if (add)
        add_step(psprintf("%sADD COLUMN %s %s", a, col, m->new_type), zd::Lock::AccessExclusive,
                 kBriefLock);
      if (m->not_null)
        add_step(psprintf(ZD_NOT_NULL_NOT_VALID ? "%sADD CONSTRAINT %s NOT NULL %s NOT VALID"
                                                : "%sADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID",
                          a, check, col),
                 zd::Lock::AccessExclusive, kBriefLock);
      // (Last, as the other kinds' trigger: an add column's expression is known only once its
      // column exists.)
      if (fills) add_step(fill_trigger_sql(m, add), zd::Lock::ShareRowExclusive, kBriefLock);
      break;
    case StepPhase::Migrate:
      // (A row the expression maps to NULL is left out, so that no batch finds it again; the
      // VALIDATE then says which rule it breaks.)
      if (fills)
        add_step(psprintf("CALL %s.zd_backfill(relation => %s, set_clause => %s, "
                          "where_clause => %s, name => %s)",
                          schema_name(), quote_literal_cstr(m->relation),
                          quote_literal_cstr(psprintf("%s = (%s)", col, m->up_sql)),
                          quote_literal_cstr(
                              psprintf("%s IS NULL AND (%s) IS NOT NULL", col, m->up_sql)),
                          quote_literal_cstr(m->backfill_name)),
                 zd::Lock::RowExclusive,
                 "one batch at a time: the batch's rows, for about 40 ms each");
      if (m->not_null)
        add_step(psprintf("%sVALIDATE CONSTRAINT %s", a, check), zd::Lock::ShareUpdateExclusive,
                 kScan);
      add_step(psprintf("SELECT %s.zd_migration_ready(%lld)", schema_name(), (long long) m->id),
               zd::Lock::None, "no lock on the table");
      break;
    case StepPhase::Contract:
      if (fills) add_step(drop_trigger, zd::Lock::AccessExclusive, kBriefLock);
      if (m->not_null && ZD_NOT_NULL_NOT_VALID) {
        add_step(psprintf("%sRENAME CONSTRAINT %s TO %s", a, check,
                          quote_identifier(native_not_null_name(m))),
                 zd::Lock::AccessExclusive, kBriefLock);
      } else if (m->not_null) {
        add_step(psprintf("%sALTER COLUMN %s SET NOT NULL", a, col), zd::Lock::AccessExclusive,
                 "milliseconds: the validated CHECK proves it, no scan");
        add_step(psprintf("%sDROP CONSTRAINT %s", a, check), zd::Lock::AccessExclusive,
                 kBriefLock);
      }
      break;
    case StepPhase::Abort:
      if (fills) add_step(drop_trigger, zd::Lock::AccessExclusive, kBriefLock);
      if (add)
        add_step(psprintf("%sDROP COLUMN %s", a, col), zd::Lock::AccessExclusive, kBriefLock);
      else
        add_step(psprintf("%sDROP CONSTRAINT %s", a, check), zd::Lock::AccessExclusive,
                 kBriefLock);
      break;
  }
  return out;
}

}  // namespace zd::pg::expand
