#include "pg/deferral.hpp"

#include "pg/deferral_worker.hpp"
#include "pg/guc.hpp"
#include "pg/lock_cap.hpp"
#include "pg/pinned_sql.hpp"
#include "pg/rewrite.hpp"
#include "pg/sql_tokens.hpp"
#include "pg/stats.hpp"
#include "pg/top_level.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "access/xact.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// The recording session's settings that decide how the safe form runs: the worker runs it
// under the same policy (a role's or session's setting would not reach the worker otherwise).
const char *const kCarriedSettings[] = {
    "zero_downtime.small_table_size", "zero_downtime.lock_timeout",
    "zero_downtime.lock_retries", "zero_downtime.lock_retry_budget", "maintenance_work_mem"};

Datum carried_settings() {
  const int n = lengthof(kCarriedSettings);
  Datum items[lengthof(kCarriedSettings)];
  for (int i = 0; i < n; i++)
    items[i] = CStringGetTextDatum(psprintf(
        "%s=%s", kCarriedSettings[i], GetConfigOptionByName(kCarriedSettings[i], nullptr, false)));
  return PointerGetDatum(construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT));
}

void run_brief_step(void *arg) { run_utility_sql((const char *) arg); }

// What this transaction deferred that a later statement of it may need (an index, a unique
// or primary key constraint), in TopTransactionContext: such a statement fails (the object
// does not exist until the worker builds it after the commit), and its error is explained.
struct DeferredObject {
  const char *index;       // unquoted
  const char *constraint;  // unquoted; nullptr for a CREATE INDEX
  const char *table;       // schema-qualified, quoted
  const char *relname;     // the table's bare name, as PostgreSQL's messages name it
  const char *sql;         // what was deferred: "CREATE UNIQUE INDEX x ON t (c)"
  bool unique;
  Oid relid;
  int n_keys;         // 0: not known (a CREATE UNIQUE INDEX)
  AttrNumber *keys;   // the key columns
  SubTransactionId subxact;  // recorded in: rolled back to before it, forgotten
};
List *deferred_objects = NIL;
bool callbacks_registered = false;
emit_log_hook_type prev_emit_log_hook = nullptr;
post_parse_analyze_hook_type prev_post_parse_analyze_hook = nullptr;

// The ON CONFLICT target of the last statement analysed while this transaction had deferred
// objects: its table and inferred columns.  (The error PostgreSQL's planner raises when no
// unique index matches names neither.)
Oid on_conflict_relid = InvalidOid;
int on_conflict_n = 0;
AttrNumber on_conflict_keys[INDEX_MAX_KEYS];

void forget_deferred_objects(XactEvent, void *) {
  deferred_objects = NIL;
  on_conflict_relid = InvalidOid;
}

void forget_rolled_back_objects(SubXactEvent event, SubTransactionId subxact, SubTransactionId,
                                void *) {
  if (event != SUBXACT_EVENT_ABORT_SUB || deferred_objects == NIL) return;
  List *kept = NIL;
  MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
  ListCell *lc;
  foreach (lc, deferred_objects) {
    DeferredObject *object = (DeferredObject *) lfirst(lc);
    if (object->subxact < subxact) kept = lappend(kept, object);
  }
  MemoryContextSwitchTo(old);
  deferred_objects = kept;
}

extern "C" void zd_note_on_conflict_target(ParseState *pstate, Query *query,
                                           ZD_JUMBLE_STATE *jumble);

void note_deferred_object(const zd::Operation &op) {
  const bool constraint = op.kind == zd::OpKind::AddUnique || op.kind == zd::OpKind::AddPrimaryKey;
  if ((op.kind != zd::OpKind::CreateIndex && !constraint) || op.index_name.empty()) return;
  if (!callbacks_registered) {
    RegisterXactCallback(forget_deferred_objects, nullptr);
    RegisterSubXactCallback(forget_rolled_back_objects, nullptr);
    // Installed the first time: every statement of every backend is analysed, few defer.
    prev_post_parse_analyze_hook = post_parse_analyze_hook;
    post_parse_analyze_hook = zd_note_on_conflict_target;
    callbacks_registered = true;
  }
  MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
  DeferredObject *object = (DeferredObject *) palloc0(sizeof(DeferredObject));
  object->index = unquoted_identifier(op.index_name.c_str());
  object->constraint = constraint ? unquoted_identifier(op.constraint_name.c_str()) : nullptr;
  object->table = pstrdup(op.table.name.c_str());
  const char *relname = get_rel_name(op.table.oid);
  object->relname = pstrdup(relname != nullptr ? relname : "");
  StringInfoData columns;
  initStringInfo(&columns);
  for (size_t i = 0; i < op.key_columns.size(); i++)
    appendStringInfo(&columns, "%s%s", i ? ", " : "", op.key_columns[i].c_str());
  object->sql = constraint ? psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s (%s)", object->table,
                                      op.constraint_name.c_str(),
                                      op.kind == zd::OpKind::AddPrimaryKey ? "PRIMARY KEY"
                                                                           : "UNIQUE",
                                      columns.data)
                           : psprintf("CREATE %sINDEX %s ON %s", op.unique_index ? "UNIQUE " : "",
                                      op.index_name.c_str(), object->table);
  object->unique = constraint || op.unique_index;
  object->relid = op.table.oid;
  object->keys = (AttrNumber *) palloc0(sizeof(AttrNumber) * (op.key_columns.size() + 1));
  for (size_t i = 0; i < op.key_columns.size(); i++)
    object->keys[object->n_keys++] = get_attnum(op.table.oid, unquoted_identifier(op.key_columns[i].c_str()));
  object->subxact = GetCurrentSubTransactionId();
  deferred_objects = lappend(deferred_objects, object);
  MemoryContextSwitchTo(old);
}

// The ON CONFLICT target is the deferred unique object's table and, when known, its columns.
bool on_conflict_needs(const DeferredObject *object) {
  if (!OidIsValid(on_conflict_relid) || object->relid != on_conflict_relid) return false;
  if (object->n_keys == 0) return true;
  if (object->n_keys != on_conflict_n) return false;
  for (int i = 0; i < object->n_keys; i++) {
    bool found = false;
    for (int j = 0; j < on_conflict_n; j++) found = found || on_conflict_keys[j] == object->keys[i];
    if (!found) return false;
  }
  return true;
}

// The deferred object an error is about, if any: it names the index or the constraint, or it
// is PostgreSQL's "no unique constraint" of ON CONFLICT (on the deferred one's table and
// columns) or of a foreign key (on the referenced table it names) while a unique one is
// deferred.
const DeferredObject *object_of_error(const ErrorData *error) {
  const char *message = error->message != nullptr ? error->message : "";
  const char *id = error->message_id != nullptr ? error->message_id : "";
  ListCell *lc;
  foreach (lc, deferred_objects) {
    const DeferredObject *object = (const DeferredObject *) lfirst(lc);
    if (strstr(message, psprintf("\"%s\"", object->index)) != nullptr ||
        (object->constraint != nullptr &&
         strstr(message, psprintf("\"%s\"", object->constraint)) != nullptr))
      return object;
    if (!object->unique) continue;
    if (error->sqlerrcode == ERRCODE_INVALID_COLUMN_REFERENCE &&
        strstr(id, "ON CONFLICT specification") != nullptr && on_conflict_needs(object))
      return object;
    if (error->sqlerrcode == ERRCODE_INVALID_FOREIGN_KEY &&
        strstr(id, "no unique constraint matching given keys") != nullptr &&
        strstr(message, psprintf("\"%s\"", object->relname)) != nullptr)
      return object;
  }
  return nullptr;
}

// emit_log_hook: an error about an object this transaction deferred gets a DETAIL and a HINT
// saying so.  Costs one pointer test unless the transaction deferred such an object.  (Runs
// before the transaction's abort forgets them; in the error's own memory.)
extern "C" void zd_explain_deferred_objects(ErrorData *error) {
  if (deferred_objects != NIL && error->elevel >= ERROR) {
    MemoryContext old = MemoryContextSwitchTo(error->assoc_context);
    if (const DeferredObject *object = object_of_error(error)) {
      const char *detail = psprintf(
          "This transaction deferred %s (zero_downtime.defer_in_transaction): it is built after "
          "the transaction commits, so it does not exist here yet.",
          object->sql);
      error->detail = error->detail ? psprintf("%s\n%s", error->detail, detail) : (char *) detail;
      const char *hint =
          "Use it in a migration after this one (CALL zd_deferred_wait(); waits for the build), "
          "or build it first: CREATE INDEX CONCURRENTLY in a migration of its own, outside a "
          "transaction.";
      error->hint = error->hint ? psprintf("%s\n%s", error->hint, hint) : (char *) hint;
    }
    MemoryContextSwitchTo(old);
  }
  if (prev_emit_log_hook != nullptr) prev_emit_log_hook(error);
}

// A deferred `CALL zd_backfill(...)` (the fill of a column added with a volatile default) names
// the procedure in the extension's schema: the worker runs it with the migration role's
// search_path, which need not include that schema (CREATE EXTENSION zero_downtime SCHEMA zd).
const char *qualified_backfill_call(const char *sql, Oid schema) {
  static const char kCall[] = "CALL zd_backfill(";
  if (!OidIsValid(schema) || strncmp(sql, kCall, sizeof kCall - 1) != 0) return sql;
  return psprintf("CALL %s.%s", quote_identifier(get_namespace_name(schema)),
                  sql + strlen("CALL "));
}

}  // namespace

// The schema the extension is installed in (get_extension_schema is not exported in 15).
Oid extension_schema() {
  Oid schema = InvalidOid;
  Relation rel = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
              CStringGetDatum("zero_downtime"));
  SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  if (HeapTupleIsValid(tuple)) schema = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  return schema;
}

const char *deferred_table(Oid *owner) {
  const Oid schema = extension_schema();
  if (!OidIsValid(schema)) return nullptr;
  const Oid table = get_relname_relid("zd_deferred", schema);
  if (!OidIsValid(table)) return nullptr;
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(table));
  if (!HeapTupleIsValid(tuple)) return nullptr;
  *owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
  ReleaseSysCache(tuple);
  return quote_qualified_identifier(get_namespace_name(schema), "zd_deferred");
}

bool deferral_available(zd::TxContext tx) {
  Oid owner;
  return guc_defer_in_transaction && tx == zd::TxContext::TransactionBlock &&
         deferred_table(&owner) != nullptr;
}

void run_deferral(const GuardPlan *plan, const zd::StatementFacts *facts,
                  const char *statement) {
  const PlanFinding &finding = plan->findings[0];
  stats_count(finding.rule, kStatDeferred);
  ereport(NOTICE, (errmsg("zero_downtime: %s", finding.message), errdetail("%s", finding.detail),
                   errhint("%s", finding.hint)));
  ereport(LOG, (errmsg("zero_downtime: deferred (%s): %s", finding.rule, finding.message),
                errhidestmt(true)));
  // The brief part, here: capped, retried while the transaction holds no blocking lock yet.
  for (int i = 0; i < plan->n_steps; i++) {
    const PlanStep &step = plan->steps[i];
    CapTarget target{step.lock, step.locked_table,
                     !zd::blocks_application(facts->held.lock), true, finding.rule};
    run_with_lock_cap(target, run_brief_step, (void *) step.sql);
  }
  queue_deferred(finding.rule, plan->capped_table, statement, plan->deferred_sql,
                 plan->n_deferred, plan->deferred_undo);
  for (const zd::Operation &op : facts->ops) note_deferred_object(op);
}

// post_parse_analyze_hook, from the first deferred object of this backend on: notes the ON
// CONFLICT target of a statement analysed while this transaction has deferred objects (one
// pointer test otherwise).
extern "C" void zd_note_on_conflict_target(ParseState *pstate, Query *query,
                                           ZD_JUMBLE_STATE *jumble) {
  if (prev_post_parse_analyze_hook != nullptr) prev_post_parse_analyze_hook(pstate, query, jumble);
  if (deferred_objects == NIL || query->onConflict == nullptr) return;
  on_conflict_relid = InvalidOid;
  on_conflict_n = 0;
  if (query->resultRelation <= 0) return;
  on_conflict_relid = rt_fetch(query->resultRelation, query->rtable)->relid;
  ListCell *lc;
  foreach (lc, query->onConflict->arbiterElems) {
    const InferenceElem *element = lfirst_node(InferenceElem, lc);
    if (IsA(element->expr, Var) && on_conflict_n < INDEX_MAX_KEYS)
      on_conflict_keys[on_conflict_n++] = ((const Var *) element->expr)->varattno;
  }
}

void install_deferred_object_explainer() {
  prev_emit_log_hook = emit_log_hook;
  emit_log_hook = zd_explain_deferred_objects;
  // (The post_parse_analyze_hook: when this backend first defers an object.)
}

void queue_deferred(const char *rule, const char *relation, const char *statement,
                    const char *const *later, int n_later, const char *undo,
                    const char *const *drop_invalid_first) {
  // Recorded in this transaction, as the table's owner: nobody else may write it.
  Oid owner;
  const char *table = deferred_table(&owner);
  if (table == nullptr) elog(ERROR, "zero_downtime: the zd_deferred table is gone");
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "zero_downtime: SPI_connect failed");
  // The statement's rows share a batch: a failed one skips the rest of its batch.
  Oid seq_type[1] = {TEXTOID};
  Datum seq_name[1] = {CStringGetTextDatum(psprintf("%s_id_seq", table))};
  if (run_pinned_sql(owner, "SELECT pg_catalog.nextval($1::pg_catalog.regclass)", 1, seq_type,
                     seq_name, nullptr, false, 1) != SPI_OK_SELECT ||
      SPI_processed != 1)
    elog(ERROR, "zero_downtime: could not number the deferred statement");
  bool isnull;
  const Datum batch = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  const char *sql = psprintf(
      "INSERT INTO %s (batch, role, search_path, application_name, rule, relation, statement, "
"run_sql, settings, undo_sql, drop_invalid_index) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      table);
  const Oid schema = extension_schema();
  for (int i = 0; i < n_later; i++) {
    Oid types[11] = {INT8OID, OIDOID,  TEXTOID,      TEXTOID, TEXTOID, TEXTOID,
                     TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, TEXTOID};
    const char *drop = drop_invalid_first != nullptr && drop_invalid_first[i] != nullptr
                           ? drop_invalid_first[i]
                           : "";
    Datum values[11] = {batch,
                       ObjectIdGetDatum(GetUserId()),
                       CStringGetTextDatum(resolved_search_path()),
                       CStringGetTextDatum(application_name ? application_name : ""),
                       CStringGetTextDatum(rule),
                       CStringGetTextDatum(relation != nullptr ? relation : ""),
                       CStringGetTextDatum(statement),
                       CStringGetTextDatum(qualified_backfill_call(later[i], schema)),
                       carried_settings(),
                       CStringGetTextDatum(undo != nullptr ? undo : ""),
                       CStringGetTextDatum(drop)};
    if (run_pinned_sql(owner, sql, 11, types, values, nullptr, false) != SPI_OK_INSERT)
      elog(ERROR, "zero_downtime: could not record the deferred statement");
  }
  SPI_finish();
  start_deferral_worker_at_commit();
}

void warn_if_deferral_failed(const char *relation) {
  if (relation == nullptr || relation[0] == '\0' || stats_deferred_failures() == 0) return;
  Oid owner;
  const char *table = deferred_table(&owner);
  if (table == nullptr || SPI_connect() != SPI_OK_CONNECT) return;
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(relation)};
  const char *sql = psprintf(
      "SELECT id, run_sql, pg_catalog.split_part(error, E'\\n', 1) FROM %s "
      "WHERE relation OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) ("
      "  SELECT max(id) FROM %s WHERE relation OPERATOR(pg_catalog.=) $1) "
      "AND state OPERATOR(pg_catalog.=) 'failed'",
      table, table);
  if (run_pinned_sql(owner, sql, 1, types, values, nullptr, true, 1) == SPI_OK_SELECT &&
      SPI_processed == 1) {
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    ereport(WARNING,
            (errmsg("zero_downtime: the last deferred statement on %s failed: %s", relation,
                    SPI_getvalue(row, desc, 2)),
             errdetail("%s", SPI_getvalue(row, desc, 3)),
             errhint("SELECT * FROM zd_deferred_status WHERE id = %s shows it; run the "
                     "statement again once its cause is fixed.",
                     SPI_getvalue(row, desc, 1))));
  }
  SPI_finish();
}

}  // namespace zd::pg
