// The SQL of every step of a migration, from the catalog: what the calls run and what zd_plan
// shows are the same list, so the plan never differs from what runs.  A rename's and a change
// of type's steps are here; a set-not-null's and an add-column's are in kind_steps.cpp.
//
//   expand   (caller's transaction)  ADD COLUMN new; its default; CHECKs on old copied to new
//            NOT VALID; CHECK (new IS NOT NULL) NOT VALID when old is NOT NULL; the sync trigger
//   migrate  (after commit, the deferred-work worker, one statement at a time)  zd_backfill of
//            the rows written before the trigger; each index on old copied CONCURRENTLY; each
//            copied CHECK validated; zd_migration_ready
//   contract (caller's transaction)  drop the trigger; SET NOT NULL (proved by the validated
//            CHECK: no scan); DROP COLUMN old; a change of type renames new to old; the copies
//            take their originals' names
//   abort    (caller's transaction)  drop the trigger and the new column (its copies go with it)
//
// Copies of indexes and constraints are found by name: <original>_zd<id>.  An index or CHECK
// is copied by rewriting its definition (pg_get_indexdef, pg_get_constraintdef) token by token
// with PostgreSQL's lexer: each reference to the old column becomes the new one.
#include "pg/expand/expand.hpp"

#include "pg/check_constraints.hpp"
#include "pg/lock_cap.hpp"
#include "pg/rewrite.hpp"
#include "pg/sql_tokens.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/sysattr.h"
#include "utils/array.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
}

namespace zd::pg::expand {

const char *const kBriefLock = "milliseconds (capped at zero_downtime.lock_timeout, retried)";

// (cut at a character boundary)
const char *copy_name(const char *source, int64 id) {
  const char *suffix = psprintf("_zd%lld", (long long) id);
  const int room = NAMEDATALEN - 1 - (int) strlen(suffix);
  const int len = pg_mbcliplen(source, (int) strlen(source), room);
  return psprintf("%.*s%s", len, source, suffix);
}

Step *make_step(StepPhase phase, const char *sql, zd::Lock lock, const char *duration) {
  Step *s = (Step *) palloc0(sizeof(Step));
  s->phase = phase;
  s->call = step_phase_name(phase);
  s->sql = sql;
  s->lock = lock;
  s->duration = duration;
  return s;
}

namespace {

const char *const kBrief = kBriefLock;

// `def` with every reference to column `from` (as the deparser quotes it) replaced by `to`:
// a token equal to it, neither qualified (after '.'), a function (before '(') nor a type
// (after '::').
const char *replace_column(const char *def, const char *from, const char *to) {
  const char *quoted_from = quote_identifier(from);
  SqlToken *tokens;
  const int n = lex_tokens(def, &tokens);
  StringInfoData out;
  initStringInfo(&out);
  int copied = 0;
  for (int i = 0; i < n; i++) {
    const SqlToken &t = tokens[i];
    if (t.end - t.start != (int) strlen(quoted_from) ||
        strncmp(def + t.start, quoted_from, t.end - t.start) != 0)
      continue;
    if (i > 0 && (token_is(def, tokens[i - 1], ".") || token_is(def, tokens[i - 1], "::")))
      continue;
    if (i + 1 < n && token_is(def, tokens[i + 1], "(")) continue;
    appendBinaryStringInfo(&out, def + copied, t.start - copied);
    appendStringInfoString(&out, quote_identifier(to));
    copied = t.end;
  }
  appendStringInfoString(&out, def + copied);
  return out.data;
}

bool index_uses_column(Relation index, AttrNumber attnum) {
  Form_pg_index form = index->rd_index;
  for (int i = 0; i < form->indnatts; i++)
    if (form->indkey.values[i] == attnum) return true;
  Bitmapset *used = nullptr;
  pull_varattnos((Node *) RelationGetIndexExpressions(index), 1, &used);
  pull_varattnos((Node *) RelationGetIndexPredicate(index), 1, &used);
  return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, used);
}

struct Copy {
  Oid oid;
  const char *source;
  const char *copy;
  bool unique;
  bool valid;  // a constraint: validated
};

// The indexes on the old column (of the table as it is now), with their copies' names.
List *index_copies(Relation rel, AttrNumber old_attnum, int64 id) {
  List *out = NIL;
  List *indexes = RelationGetIndexList(rel);
  ListCell *lc;
  foreach (lc, indexes) {
    Relation index = index_open(lfirst_oid(lc), AccessShareLock);
    if (index_uses_column(index, old_attnum)) {
      Copy *c = (Copy *) palloc0(sizeof(Copy));
      c->oid = RelationGetRelid(index);
      c->source = pstrdup(RelationGetRelationName(index));
      c->copy = copy_name(c->source, id);
      c->unique = index->rd_index->indisunique;
      out = lappend(out, c);
    }
    index_close(index, AccessShareLock);
  }
  return out;
}

struct ConstraintScan {
  AttrNumber attnum;
  int64 id;
  const char *relation;
  const char *column;
  List *checks;
};

bool key_has(HeapTuple tuple, TupleDesc desc, int anum, AttrNumber attnum) {
  bool isnull;
  Datum keys = heap_getattr(tuple, anum, desc, &isnull);
  if (isnull) return false;
  ArrayType *array = DatumGetArrayTypeP(keys);
  const int16 *values = (const int16 *) ARR_DATA_PTR(array);
  for (int i = 0; i < ARR_DIMS(array)[0]; i++)
    if (values[i] == attnum) return true;
  return false;
}

void visit_constraint(HeapTuple tuple, TupleDesc desc, void *arg) {
  ConstraintScan *scan = (ConstraintScan *) arg;
  Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
  if (!key_has(tuple, desc, Anum_pg_constraint_conkey, scan->attnum)) return;
  // (18's NOT NULL constraint is the column's NOT NULL, which the contract carries over.)
  if (compat::is_not_null_constraint(con->contype)) return;
  if (con->contype == CONSTRAINT_CHECK) {
    Copy *c = (Copy *) palloc0(sizeof(Copy));
    c->oid = con->oid;
    c->source = pstrdup(NameStr(con->conname));
    c->copy = copy_name(c->source, scan->id);
    c->valid = con->convalidated;
    scan->checks = lappend(scan->checks, c);
    return;
  }
  const char *what = con->contype == CONSTRAINT_FOREIGN ? "foreign key"
                     : con->contype == CONSTRAINT_PRIMARY ? "primary key"
                     : con->contype == CONSTRAINT_UNIQUE  ? "unique constraint"
                                                          : "constraint";
  ereport(ERROR,
          (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
           errmsg("zero_downtime: column %s of %s is in %s %s, which expand/contract does not "
                  "carry over yet",
                  quote_identifier(scan->column), scan->relation, what,
                  quote_identifier(NameStr(con->conname))),
           errdetail("This version copies plain and unique indexes and CHECK constraints to "
                     "the new column, not keys or foreign keys."),
           errhint("Nothing was changed.  Keep the column, or change it in a maintenance "
                   "window: /* zero_downtime: allow rename-column */ before the statement.")));
}

List *check_copies(Relation rel, AttrNumber attnum, const Migration *m) {
  ConstraintScan scan{attnum, m->id, m->relation, m->old_column, NIL};
  for_each_constraint_of(RelationGetRelid(rel), visit_constraint, &scan);
  return scan.checks;
}

const char *not_null_helper(const Migration *m) {
  return copy_name(psprintf("%s_not_null", m->new_column), m->id);
}

Step *step(StepPhase phase, const char *sql, zd::Lock lock, const char *duration) {
  return make_step(phase, sql, lock, duration);
}

const char *alter(const Migration *m) { return psprintf("ALTER TABLE %s ", m->relation); }

const char *sync_trigger_sql(const Migration *m) {
  return psprintf(
      "CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION "
      "%s.zd_sync_trigger(%s, %s, %s, %s, %s, %s, %s)",
      quote_identifier(m->trigger_name), m->relation, schema_name(),
      quote_literal_cstr(psprintf("%lld", (long long) m->id)), quote_literal_cstr(m->old_column),
      quote_literal_cstr(m->new_column), quote_literal_cstr(m->up_sql),
      quote_literal_cstr(m->down_sql), quote_literal_cstr(m->version),
      quote_literal_cstr(m->kind));
}

}  // namespace

const char *step_phase_name(StepPhase phase) {
  switch (phase) {
    case StepPhase::Expand: return "expand";
    case StepPhase::Migrate: return "migrate";
    case StepPhase::Contract: return "contract";
    case StepPhase::Abort: return "abort";
  }
  return "?";
}

namespace {

List *steps_under_pinned_path(const Migration *m, StepPhase phase) {
  Relation rel = relation_open(m->relid, AccessShareLock);
  const AttrNumber old_attnum = get_attnum(m->relid, m->old_column);
  if (old_attnum == InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("zero_downtime: column %s of %s is gone", quote_identifier(m->old_column),
                           m->relation)));
  Form_pg_attribute old_att = TupleDescAttr(RelationGetDescr(rel), old_attnum - 1);
  const bool old_not_null = old_att->attnotnull;
  List *indexes = index_copies(rel, old_attnum, m->id);
  List *checks = check_copies(rel, old_attnum, m);
  const char *a = alter(m);
  const char *q_old = quote_identifier(m->old_column);
  const char *q_new = quote_identifier(m->new_column);
  List *out = NIL;
  ListCell *lc;
  switch (phase) {
    case StepPhase::Expand: {
      out = lappend(out, step(phase, psprintf("%sADD COLUMN %s %s", a, q_new, m->new_type),
                              zd::Lock::AccessExclusive, kBrief));
      if (old_att->atthasdef) {
        Node *def = build_column_default(rel, old_attnum);
        if (def != nullptr && !contain_volatile_functions(def))
          out = lappend(out, step(phase,
                                  psprintf("%sALTER COLUMN %s SET DEFAULT %s", a, q_new,
                                           deparse_expression(
                                               def,
                                               deparse_context_for(RelationGetRelationName(rel),
                                                                   m->relid),
                                               false, false)),
                                  zd::Lock::AccessExclusive, kBrief));
        // (A volatile default, such as a serial's nextval, is not copied: the trigger fills the
        // new column from the old one's on every INSERT; the new column gets it at contract.)
      }
      foreach (lc, checks) {
        const Copy *c = (const Copy *) lfirst(lc);
        const char *condef = TextDatumGetCString(
            DirectFunctionCall1(pg_get_constraintdef, ObjectIdGetDatum(c->oid)));
        const char *copied = replace_column(condef, m->old_column, m->new_column);
        out = lappend(out, step(phase,
                                psprintf("%sADD CONSTRAINT %s %s%s", a, quote_identifier(c->copy),
                                         copied, c->valid ? " NOT VALID" : ""),
                                zd::Lock::AccessExclusive, kBrief));
      }
      if (old_not_null)
        out = lappend(out, step(phase,
                                psprintf("%sADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", a,
                                         quote_identifier(not_null_helper(m)), q_new),
                                zd::Lock::AccessExclusive, kBrief));
      out = lappend(out, step(phase, sync_trigger_sql(m), zd::Lock::ShareRowExclusive, kBrief));
      break;
    }
    case StepPhase::Migrate: {
      out = lappend(
          out,
          step(phase,
               psprintf("CALL %s.zd_backfill(relation => %s, set_clause => %s, where_clause => "
                        "%s, name => %s)",
                        schema_name(), quote_literal_cstr(m->relation),
                        quote_literal_cstr(psprintf("%s = %s", q_old, q_old)),
                        quote_literal_cstr(psprintf("%s IS NULL AND (%s) IS NOT NULL", q_new,
                                                    m->up_sql)),
                        quote_literal_cstr(m->backfill_name)),
               zd::Lock::RowExclusive,
               "one batch at a time: the batch's rows, for about 40 ms each"));
      foreach (lc, indexes) {
        const Copy *c = (const Copy *) lfirst(lc);
        const char *def = pg_get_indexdef_string(c->oid);
        SqlToken *tokens;
        const int n = lex_tokens(def, &tokens);
        int using_at = -1;
        for (int i = 0; i < n && using_at < 0; i++)
          if (token_is(def, tokens[i], "USING")) using_at = tokens[i].start;
        if (using_at < 0) elog(ERROR, "zero_downtime: unexpected index definition: %s", def);
        Step *build =
            step(phase,
                 psprintf("CREATE %sINDEX CONCURRENTLY IF NOT EXISTS %s ON %s %s",
                          c->unique ? "UNIQUE " : "", quote_identifier(c->copy), m->relation,
                          replace_column(def + using_at, m->old_column, m->new_column)),
                 zd::Lock::ShareUpdateExclusive,
                 "the whole build (reads and writes go on; other DDL and VACUUM wait)");
        build->index = quote_qualified_identifier(
            get_namespace_name(RelationGetNamespace(rel)), c->copy);
        out = lappend(out, build);
      }
      foreach (lc, checks) {
        const Copy *c = (const Copy *) lfirst(lc);
        if (c->valid)
          out = lappend(out, step(phase,
                                  psprintf("%sVALIDATE CONSTRAINT %s", a,
                                           quote_identifier(c->copy)),
                                  zd::Lock::ShareUpdateExclusive,
                                  "the scan (reads and writes go on; other DDL and VACUUM wait)"));
      }
      if (old_not_null)
        out = lappend(out, step(phase,
                                psprintf("%sVALIDATE CONSTRAINT %s", a,
                                         quote_identifier(not_null_helper(m))),
                                zd::Lock::ShareUpdateExclusive,
                                "the scan (reads and writes go on; other DDL and VACUUM wait)"));
      out = lappend(out, step(phase,
                              psprintf("SELECT %s.zd_migration_ready(%lld)", schema_name(),
                                       (long long) m->id),
                              zd::Lock::None, "no lock on the table"));
      break;
    }
    case StepPhase::Contract: {
      out = lappend(out, step(phase,
                              psprintf("DROP TRIGGER %s ON %s", quote_identifier(m->trigger_name),
                                       m->relation),
                              zd::Lock::AccessExclusive, kBrief));
      if (old_not_null) {
        out = lappend(out, step(phase, psprintf("%sALTER COLUMN %s SET NOT NULL", a, q_new),
                                zd::Lock::AccessExclusive,
                                "milliseconds: the validated CHECK proves it, no scan"));
        out = lappend(out, step(phase,
                                psprintf("%sDROP CONSTRAINT %s", a,
                                         quote_identifier(not_null_helper(m))),
                                zd::Lock::AccessExclusive, kBrief));
      }
      if (old_att->atthasdef) {
        Node *def = build_column_default(rel, old_attnum);
        if (def != nullptr && contain_volatile_functions(def)) {
          out = lappend(out, step(phase,
                                  psprintf("%sALTER COLUMN %s SET DEFAULT %s", a, q_new,
                                           deparse_expression(
                                               def,
                                               deparse_context_for(RelationGetRelationName(rel),
                                                                   m->relid),
                                               false, false)),
                                  zd::Lock::AccessExclusive, kBrief));
        }
      }
      out = lappend(out, step(phase, psprintf("%sDROP COLUMN %s", a, q_old),
                              zd::Lock::AccessExclusive, kBrief));
      if (!is_rename(m))
        out = lappend(out, step(phase, psprintf("%sRENAME COLUMN %s TO %s", a, q_new, q_old),
                                zd::Lock::AccessExclusive, kBrief));
      foreach (lc, indexes) {
        const Copy *c = (const Copy *) lfirst(lc);
        out = lappend(out, step(phase,
                                psprintf("ALTER INDEX %s RENAME TO %s",
                                         quote_qualified_identifier(
                                             get_namespace_name(RelationGetNamespace(rel)),
                                             c->copy),
                                         quote_identifier(c->source)),
                                zd::Lock::ShareUpdateExclusive, "milliseconds"));
      }
      foreach (lc, checks) {
        const Copy *c = (const Copy *) lfirst(lc);
        out = lappend(out, step(phase,
                                psprintf("%sRENAME CONSTRAINT %s TO %s", a,
                                         quote_identifier(c->copy), quote_identifier(c->source)),
                                zd::Lock::AccessExclusive, kBrief));
      }
      break;
    }
    case StepPhase::Abort:
      out = lappend(out, step(phase,
                              psprintf("DROP TRIGGER %s ON %s", quote_identifier(m->trigger_name),
                                       m->relation),
                              zd::Lock::AccessExclusive, kBrief));
      out = lappend(out, step(phase, psprintf("%sDROP COLUMN %s", a, q_new),
                              zd::Lock::AccessExclusive, kBrief));
      break;
  }
  relation_close(rel, AccessShareLock);
  return out;
}

}  // namespace

// Made with search_path pinned: the definitions deparsed here (indexes, CHECKs, defaults) name
// everything outside pg_catalog with its schema, and mean the same when a step runs later, in
// the worker, whatever schemas then shadow what.
List *steps_for(const Migration *m, StepPhase phase) {
  const int level = pin_search_path();
  List *out = retires_old_column(m) ? steps_under_pinned_path(m, phase) : fill_kind_steps(m, phase);
  restore_search_path(level);
  return out;
}

namespace {
void run_sql(void *arg) { run_utility_sql((const char *) arg); }
}  // namespace

// Under the search_path the step was made with.
void run_step(const Migration *m, const Step *s) {
  CapTarget target{s->lock, m->relation, true, true, "lock-cap"};
  const int level = pin_search_path();
  run_with_lock_cap(target, run_sql, (void *) s->sql);
  restore_search_path(level);
}

}  // namespace zd::pg::expand
