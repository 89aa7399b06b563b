// The sync trigger of an expand/contract migration: BEFORE INSERT OR UPDATE, FOR EACH ROW, it
// keeps the old and the new column equal, so that old code (old column only) and new code (new
// column only) both read what either wrote.  C, no SPI: it parses the migration's expressions
// (carried in its arguments, search_path pinned) and plans them once per backend while nothing
// they depend on changes (expression_cache.cpp), and readies them per statement;
// per row it decides which side the write is for (core/sync_side.hpp: the client's stated
// version, else the columns the write names) and computes the other side from it.
//   arguments: id, old column, new column, up_sql, down_sql, version ("" none), kind
// A rename copies the value as it is (same type); a change of type evaluates up (new from
// old) or down (old from new) over the row.  An error of the expression (a value the down
// expression cannot map back, such as a bigint out of integer range) is the writer's error,
// with a context line naming the migration.
#include "core/sync_side.hpp"
#include "pg/boundary.hpp"
#include "pg/expand/expand.hpp"
#include "pg/expand/trigger_protocol.hpp"
#include "pg/guc.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace zd::pg::expand {
namespace {

struct SyncState {
  const char *id;
  AttrNumber old_attnum;
  AttrNumber new_attnum;
  bool rename;
  ExprState *up;  // a change of type: the new value from the row; the old from it
  ExprState *down;
  ExprContext *econtext;
  TupleTableSlot *slot;
  Oid owner;       // the table's: untrusted expressions run as this role
  bool untrusted;  // up or down calls code a superuser does not own
  zd::StatedSide stated;
  int16 new_typlen;
  bool new_typbyval;
};

const char *column_name_of(Relation rel, AttrNumber attnum) {
  return NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
}

AttrNumber attnum_of(Relation rel, const char *name, const char *id) {
  const AttrNumber attnum = get_attnum(RelationGetRelid(rel), name);
  if (attnum == InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("zero_downtime: the sync trigger of migration %s finds no column %s "
                           "in %s",
                           id, quote_identifier(name), RelationGetRelationName(rel)),
                    errhint("SELECT zd_abort(%s) removes the migration.", id)));
  return attnum;
}

zd::StatedSide stated(const char *version) {
  const char *client = guc_client_version != nullptr ? guc_client_version : "";
  if (client[0] == '\0' || version[0] == '\0') return zd::StatedSide::None;
  // (The core compares; it allocates nothing that outlives this call.)
  return run_cpp("zd_sync_trigger", [client, version] { return zd::stated_side(client, version); });
}

SyncState *set_up(FunctionCallInfo fcinfo, TriggerData *td) {
  Trigger *trigger = td->tg_trigger;
  if (trigger->tgnargs != 7)
    ereport(ERROR, (errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
                    errmsg("zero_downtime: zd_sync_trigger takes 7 arguments, trigger %s has %d",
                           quote_identifier(trigger->tgname), trigger->tgnargs)));
  MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
  Relation rel = td->tg_relation;
  char **args = trigger->tgargs;
  SyncState *s = (SyncState *) palloc0(sizeof(SyncState));
  s->id = pstrdup(args[0]);
  s->old_attnum = attnum_of(rel, args[1], s->id);
  s->new_attnum = attnum_of(rel, args[2], s->id);
  s->rename = strcmp(args[6], "rename column") == 0;
  Form_pg_attribute new_att = TupleDescAttr(RelationGetDescr(rel), s->new_attnum - 1);
  s->new_typlen = new_att->attlen;
  s->new_typbyval = new_att->attbyval;
  if (!s->rename) {
    bool up_untrusted, down_untrusted;
    const Oid tgoid = trigger->tgoid;
    s->up = ExecInitExpr(
        cached_expression(rel, tgoid, 1, args[3], s->new_attnum, &up_untrusted), nullptr);
    s->down = ExecInitExpr(
        cached_expression(rel, tgoid, 2, args[4], s->old_attnum, &down_untrusted), nullptr);
    s->owner = rel->rd_rel->relowner;
    s->untrusted = up_untrusted || down_untrusted;
    s->econtext = CreateStandaloneExprContext();
    // (A copy of the descriptor: the relcache's own is reference-counted per resource owner.)
    s->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)), &TTSOpsHeapTuple);
  }
  s->stated = stated(args[5]);
  MemoryContextSwitchTo(old);
  fcinfo->flinfo->fn_extra = s;
  return s;
}

struct ErrorContextArg {
  const SyncState *state;
  const char *what;
  Relation rel;
};

void error_context(void *arg) {
  const ErrorContextArg *a = (const ErrorContextArg *) arg;
  errcontext("zero_downtime: sync trigger of migration %s on %s, computing %s", a->state->id,
             RelationGetRelationName(a->rel), a->what);
}

Datum evaluate(SyncState *s, ExprState *expr, HeapTuple tuple, bool *isnull, Relation rel,
               const char *what) {
  ErrorContextArg arg{s, what, rel};
  ErrorContextCallback callback{error_context_stack, error_context, &arg};
  error_context_stack = &callback;
  ExecStoreHeapTuple(tuple, s->slot, false);
  s->econtext->ecxt_scantuple = s->slot;
  // The table owner's code runs as the owner, not as whoever writes the row (an error
  // restores the writer's role and search_path with the transaction).
  AsOwner saved{InvalidOid, 0, 0};
  if (s->untrusted) saved = enter_as_owner(s->owner);
  Datum value = ExecEvalExprSwitchContext(expr, s->econtext, isnull);
  if (s->untrusted) leave_as_owner(saved);
  error_context_stack = callback.previous;
  return value;
}

bool written(TriggerData *td, bool insert, AttrNumber attnum, const Bitmapset *inserted,
             HeapTuple tuple) {
  const int member = attnum - FirstLowInvalidHeapAttributeNumber;
  if (!insert) return bms_is_member(member, td->tg_updatedcols);
  if (inserted != nullptr) return bms_is_member(member, inserted);
  // Not known (COPY FROM through a path we did not see): a value that is there was written.
  bool isnull;
  (void) heap_getattr(tuple, attnum, RelationGetDescr(td->tg_relation), &isnull);
  return !isnull;
}

}  // namespace
}  // namespace zd::pg::expand

extern "C" {
PG_FUNCTION_INFO_V1(zd_sync_trigger);
}

// (Plain C frames: an error of an expression longjmps through here.)
extern "C" Datum zd_sync_trigger(PG_FUNCTION_ARGS) {
  using namespace zd::pg::expand;
  TriggerData *td = check_before_row_trigger(fcinfo, "zd_sync_trigger");
  const bool insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
  HeapTuple tuple = insert ? td->tg_trigtuple : td->tg_newtuple;
  Relation rel = td->tg_relation;
  TupleDesc desc = RelationGetDescr(rel);
  SyncState *s = (SyncState *) fcinfo->flinfo->fn_extra;
  if (s == nullptr) s = set_up(fcinfo, td);

  const Bitmapset *inserted = insert ? inserted_columns(RelationGetRelid(rel)) : nullptr;
  zd::WriteFacts w;
  w.is_insert = insert;
  w.stated = s->stated;
  w.old_written = written(td, insert, s->old_attnum, inserted, tuple);
  w.new_written = written(td, insert, s->new_attnum, inserted, tuple);
  bool old_null, new_null;
  Datum old_value = heap_getattr(tuple, s->old_attnum, desc, &old_null);
  Datum new_value = heap_getattr(tuple, s->new_attnum, desc, &new_null);
  if (w.old_written && w.new_written) {
    bool up_null = old_null;
    Datum up = old_value;
    if (!s->rename) up = evaluate(s, s->up, tuple, &up_null, rel, "the new column (up_expr)");
    w.both_correspond = up_null == new_null &&
                        (up_null || datum_image_eq(up, new_value, s->new_typbyval, s->new_typlen));
    if (!s->rename) ResetExprContext(s->econtext);
  }
  const zd::WriteSide side = zd::side_of_write(w);
  if (side == zd::WriteSide::Untouched) return PointerGetDatum(tuple);
  if (side == zd::WriteSide::Conflict)
    ereport(ERROR,
            (errcode(MAKE_SQLSTATE('Z', 'D', '0', '0', '3')),
             errmsg("zero_downtime: this write to %s is for both sides of migration %s: it sets "
                    "%s and %s to values that do not correspond",
                    RelationGetRelationName(rel), s->id, quote_identifier(column_name_of(rel, s->old_attnum)),
                    quote_identifier(column_name_of(rel, s->new_attnum))),
             errdetail("%s", w.old_written && w.new_written
                                 ? "Old code writes only the old column, new code only the new "
                                   "one; a write of both must give them corresponding values."
                                 : psprintf("The session states zero_downtime.client_version = "
                                            "'%s', which is on the %s side, but the write names "
                                            "only the %s column.",
                                            zd::pg::guc_client_version,
                                            s->stated == zd::StatedSide::New ? "new" : "old",
                                            w.old_written ? "old" : "new")),
             errhint("Write one of the two columns (or both, corresponding), or set "
                     "zero_downtime.client_version to the version this code was written for.")));
  // Compute the side that was not written from the side that was.
  const bool to_new = side == zd::WriteSide::Old;
  const AttrNumber target = to_new ? s->new_attnum : s->old_attnum;
  bool isnull;
  Datum value;
  if (s->rename) {
    value = to_new ? old_value : new_value;
    isnull = to_new ? old_null : new_null;
  } else {
    value = evaluate(s, to_new ? s->up : s->down, tuple, &isnull, rel,
                     to_new ? "the new column (up_expr)" : "the old column (down_expr)");
  }
  int column = target;
  HeapTuple out = heap_modify_tuple_by_cols(tuple, desc, 1, &column, &value, &isnull);
  if (!s->rename) ResetExprContext(s->econtext);
  return PointerGetDatum(out);
}
