// The fill trigger of a migration that makes a column NOT NULL (with a fill expression) or
// adds a column filled from an expression: BEFORE INSERT OR UPDATE, FOR EACH ROW, it computes
// the column from the migration's expression when the write needs it (core/sync_side.hpp,
// fill_action: a NULL left by the write, or a column old code does not know).  C, no SPI: per
// statement it parses the expression (carried in its arguments, stored with every name
// qualified) with search_path pinned, plans it and prepares it for the executor; per row it
// evaluates it over the row, as the writer, or as the table's owner in a security-restricted
// operation when the expression calls code a superuser does not own (prepare_normalized).
//   arguments: id, column, expression, mode ("when null" or "when not written")
// An error of the expression is the writer's error, with a context line naming the migration.
#include "core/sync_side.hpp"
#include "pg/expand/expand.hpp"
#include "pg/expand/trigger_protocol.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace zd::pg::expand {
namespace {

struct FillState {
  const char *id;
  AttrNumber attnum;
  zd::FillMode mode;
  ExprState *expr;
  Bitmapset *reads;  // the columns the expression reads (offset by FirstLowInvalid...)
  ExprContext *econtext;
  TupleTableSlot *slot;
  Oid owner;
  bool untrusted;
};

FillState *set_up(FunctionCallInfo fcinfo, TriggerData *td) {
  Trigger *trigger = td->tg_trigger;
  if (trigger->tgnargs != 4)
    ereport(ERROR, (errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
                    errmsg("zero_downtime: zd_fill_trigger takes 4 arguments, trigger %s has %d",
                           quote_identifier(trigger->tgname), trigger->tgnargs)));
  MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
  Relation rel = td->tg_relation;
  char **args = trigger->tgargs;
  FillState *s = (FillState *) palloc0(sizeof(FillState));
  s->id = pstrdup(args[0]);
  s->attnum = get_attnum(RelationGetRelid(rel), args[1]);
  if (s->attnum == InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("zero_downtime: the fill trigger of migration %s finds no column %s "
                           "in %s",
                           s->id, quote_identifier(args[1]), RelationGetRelationName(rel)),
                    errhint("SELECT zd_abort(%s) removes the migration.", s->id)));
  s->mode = strcmp(args[3], "when null") == 0 ? zd::FillMode::WhenNull
                                              : zd::FillMode::WhenNotWritten;
  Expr *prepared = cached_expression(rel, trigger->tgoid, 0, args[2], s->attnum, &s->untrusted);
  pull_varattnos((Node *) prepared, 1, &s->reads);
  s->expr = ExecInitExpr(prepared, nullptr);
  s->owner = rel->rd_rel->relowner;
  s->econtext = CreateStandaloneExprContext();
  // (A copy of the descriptor: the relcache's own is reference-counted per resource owner.)
  s->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)), &TTSOpsHeapTuple);
  MemoryContextSwitchTo(old);
  fcinfo->flinfo->fn_extra = s;
  return s;
}

struct ErrorContextArg {
  const FillState *state;
  Relation rel;
};

void error_context(void *arg) {
  const ErrorContextArg *a = (const ErrorContextArg *) arg;
  errcontext("zero_downtime: fill trigger of migration %s on %s, computing %s", a->state->id,
             RelationGetRelationName(a->rel),
             quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(a->rel), a->state->attnum - 1)->attname)));
}

Datum evaluate(FillState *s, HeapTuple tuple, bool *isnull, Relation rel) {
  ErrorContextArg arg{s, rel};
  ErrorContextCallback callback{error_context_stack, error_context, &arg};
  error_context_stack = &callback;
  ExecStoreHeapTuple(tuple, s->slot, false);
  s->econtext->ecxt_scantuple = s->slot;
  // The table owner's code runs as the owner, never as whoever writes the row (an error
  // restores the writer's role and search_path with the transaction).
  AsOwner saved{InvalidOid, 0, 0};
  if (s->untrusted) saved = enter_as_owner(s->owner);
  Datum value = ExecEvalExprSwitchContext(s->expr, s->econtext, isnull);
  if (s->untrusted) leave_as_owner(saved);
  error_context_stack = callback.previous;
  return value;
}

// Whether the write gave the column its value: an UPDATE's SET list names it; an INSERT (or
// COPY) left a value in it.  (The column is new and has no default: an INSERT of old code
// leaves it NULL.  New code inserting NULL in it gets the expression too: the column is
// filled from it until contract.  So the trigger needs no record of the INSERT's column list,
// which is kept only while a sync trigger exists.)
bool written(TriggerData *td, bool insert, AttrNumber attnum, bool is_null) {
  if (insert) return !is_null;
  return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, td->tg_updatedcols);
}

}  // namespace
}  // namespace zd::pg::expand

extern "C" {
PG_FUNCTION_INFO_V1(zd_fill_trigger);
}

// (Plain C frames: an error of the expression longjmps through here.)
extern "C" Datum zd_fill_trigger(PG_FUNCTION_ARGS) {
  using namespace zd::pg::expand;
  TriggerData *td = check_before_row_trigger(fcinfo, "zd_fill_trigger");
  const bool insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
  HeapTuple tuple = insert ? td->tg_trigtuple : td->tg_newtuple;
  Relation rel = td->tg_relation;
  FillState *s = (FillState *) fcinfo->flinfo->fn_extra;
  if (s == nullptr) s = set_up(fcinfo, td);

  zd::FillFacts f;
  f.mode = s->mode;
  f.is_insert = insert;
  (void) heap_getattr(tuple, s->attnum, RelationGetDescr(rel), &f.is_null);
  if (s->mode == zd::FillMode::WhenNotWritten) {
    f.written = written(td, insert, s->attnum, f.is_null);
    // (A whole-row reference reads every column.)
    f.inputs_changed = !insert && (bms_overlap(s->reads, td->tg_updatedcols) ||
                                   bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, s->reads));
  }
  if (zd::fill_action(f) == zd::FillAction::Keep) return PointerGetDatum(tuple);
  bool isnull;
  Datum value = evaluate(s, tuple, &isnull, rel);
  int column = s->attnum;
  HeapTuple out = heap_modify_tuple_by_cols(tuple, RelationGetDescr(rel), 1, &column, &value,
                                            &isnull);
  ResetExprContext(s->econtext);
  return PointerGetDatum(out);
}
