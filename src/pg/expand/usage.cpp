// Evidence for contract: when the old column of each active migration was last read or
// written, and by which application_name.
//
// Which columns are watched: the old column of every zd_sync_trigger on a table of this
// database (the trigger exists exactly while its migration is active, and carries its id and
// columns).  Each backend keeps that list locally; a shared generation counter, bumped when a
// transaction that created or dropped a sync trigger commits (expand, contract, abort), tells
// it to read pg_trigger again.  So a statement when no migration is active costs one read of
// that counter and one test of the local list's length.
//
// What a statement uses: the columns its plan selects, inserts and updates on each table (what
// the permission check sees: a view's base table too, a whole-row reference as every column),
// and COPY's column list (insert_columns.cpp).  A use is recorded in shared memory, per
// migration: the time of the statement and its application_name (the last few distinct ones),
// at most once a second per backend, migration and application_name.  Only client backends'
// statements count (the deferred-work worker's backfill writes the old column to copy it).
//
// Since when: a migration is watched from its expand's commit, or from the first statement
// after a restart (shared memory is gone then): zd_contract wants the old column unused for
// zero_downtime.contract_quiet_period AND watched for that long.
//
// Tables and columns of no migration (for drop-table and drop-column: a DROP of what nothing
// used for the quiet period runs): slots of migration 0, attnum 0 for the whole table (any
// query naming it).  Only those someone asked about are watched, so that plain DML on other
// tables stays on the one-counter path: a refused DROP TABLE / DROP COLUMN starts recording
// its table or column, so does zd_track(table[, column]), and with
// zero_downtime.track_new_tables each table created is recorded from its creation (nothing of
// its life unseen: a fresh install's DROP of a table only its migrations filled runs).  They
// live in shared memory only (a restart forgets them, as it forgets what was seen).  A use by
// a migration itself does not count for them: a statement of a transaction that changed the
// schema, or of a running Prisma, Knex or node-pg-migrate migration (migration_tool.cpp).
#include "pg/expand/expand.hpp"

#include "pg/boundary.hpp"
#include "pg/compat.h"
#include "pg/deferral.hpp"
#include "pg/guc.hpp"
#include "pg/held_locks.hpp"
#include "pg/migration_tool.hpp"
#include "pg/trusted_code.hpp"
#include "core/facts.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace zd::pg::expand {
namespace {

const int kSlots = 1024;  // migrations, tables and columns watched at once, all databases
const int kTrackedSlots = 768;  // of those, tables and columns of no migration at most
const int kApps = 8;     // distinct application_names remembered per migration

struct AppUse {
  char name[NAMEDATALEN];
  TimestampTz at;
};

struct Slot {
  Oid db;  // InvalidOid: free
  int64 migration;
  Oid relid;
  AttrNumber attnum;
  TimestampTz since;      // watched from
  TimestampTz last_used;  // 0: not since
  AppUse apps[kApps];
  bool since_creation;    // migration 0: watched since the table was created
};

struct Shared {
  pg_atomic_uint64 generation;
  LWLock *lock;
  Slot slots[kSlots];
};

Shared *shared = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
ExecutorStart_hook_type prev_executor_start = nullptr;
object_access_hook_type prev_object_access = nullptr;

// This backend's list of watched columns (TopMemoryContext).
struct Watched {
  Oid relid;
  AttrNumber attnum;
  int64 migration;
  int slot;  // -1: no room in shared memory
  TimestampTz recorded_at;
  char recorded_app[NAMEDATALEN];
};
Watched *watched = nullptr;
int n_watched = 0;
int n_sync_triggers = 0;  // the sync triggers of this database (watched or not)
int watched_room = 0;
uint64 seen_generation = 0;  // the shared counter starts at 1: the first statement reads

// What this transaction changes, applied at its commit.
bool changed_in_transaction = false;
struct Pending {
  bool add;
  int64 migration;
  Oid relid;
  AttrNumber attnum;
  bool since_creation;  // a table created in this transaction (zero_downtime.track_new_tables)
};
const int kPending = 64;
Pending pending[kPending];
int n_pending = 0;

size_t shared_size() { return sizeof(Shared); }

extern "C" void usage_shmem_request(void) {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(shared_size());
  RequestNamedLWLockTranche("zero_downtime usage", 1);
}

extern "C" void usage_shmem_startup(void) {
  if (prev_shmem_startup) prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  shared = (Shared *) ShmemInitStruct("zero_downtime usage", shared_size(), &found);
  if (!found) {
    memset(shared->slots, 0, sizeof(shared->slots));
    pg_atomic_init_u64(&shared->generation, 1);
    shared->lock = &(GetNamedLWLockTranche("zero_downtime usage"))->lock;
  }
  LWLockRelease(AddinShmemInitLock);
}

// The slot of (this database, migration, relid, attnum); `add`: taken when missing, watched
// from `since`.  -1 when missing (or no room).  The lock is held exclusively by the caller.
int find_slot(int64 migration, Oid relid, AttrNumber attnum, bool add, TimestampTz since) {
  int free_slot = -1;
  for (int i = 0; i < kSlots; i++) {
    const Slot &s = shared->slots[i];
    if (s.db == MyDatabaseId && s.migration == migration && s.relid == relid &&
        s.attnum == attnum)
      return i;
    if (s.db == InvalidOid && free_slot < 0) free_slot = i;
  }
  if (!add || free_slot < 0) return -1;
  Slot &s = shared->slots[free_slot];
  memset(&s, 0, sizeof(Slot));
  s.db = MyDatabaseId;
  s.migration = migration;
  s.relid = relid;
  s.attnum = attnum;
  s.since = since;
  return free_slot;
}

Oid sync_trigger_function() {
  const Oid schema = extension_schema();
  if (!OidIsValid(schema)) return InvalidOid;
  List *name = list_make2(makeString(get_namespace_name(schema)), makeString(pstrdup("zd_sync_trigger")));
  return LookupFuncName(name, 0, nullptr, true);
}

void add_watched(Oid relid, AttrNumber attnum, int64 migration, int slot) {
  if (n_watched == watched_room) {
    watched_room = watched_room == 0 ? 8 : watched_room * 2;
    watched = watched == nullptr
                  ? (Watched *) MemoryContextAlloc(TopMemoryContext, watched_room * sizeof(Watched))
                  : (Watched *) repalloc(watched, watched_room * sizeof(Watched));
  }
  Watched &w = watched[n_watched++];
  w.relid = relid;
  w.attnum = attnum;
  w.migration = migration;
  w.slot = slot;
  w.recorded_at = 0;
  w.recorded_app[0] = '\0';
}

// Reads the sync triggers of this database: their tables, old columns and migrations.
bool column_exists(Oid relid, AttrNumber attnum) {
  HeapTuple tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
  if (!HeapTupleIsValid(tuple)) return false;
  const bool dropped = ((Form_pg_attribute) GETSTRUCT(tuple))->attisdropped;
  ReleaseSysCache(tuple);
  return !dropped;
}

// The tables and columns of no migration watched in this database; frees the slots of those
// dropped meanwhile.
void reload_tracked() {
  struct Entry {
    int slot;
    Oid relid;
    AttrNumber attnum;
  };
  Entry *entries = (Entry *) palloc(sizeof(Entry) * kSlots);
  int n = 0;
  LWLockAcquire(shared->lock, LW_SHARED);
  for (int i = 0; i < kSlots; i++) {
    const Slot &s = shared->slots[i];
    if (s.db == MyDatabaseId && s.migration == 0) entries[n++] = Entry{i, s.relid, s.attnum};
  }
  LWLockRelease(shared->lock);
  for (int i = 0; i < n; i++) {
    const Entry &e = entries[i];
    const bool exists = e.attnum == 0 ? get_rel_relkind(e.relid) != '\0'
                                      : column_exists(e.relid, e.attnum);
    if (exists) {
      add_watched(e.relid, e.attnum, 0, e.slot);
      continue;
    }
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    Slot &s = shared->slots[e.slot];
    if (s.db == MyDatabaseId && s.migration == 0 && s.relid == e.relid && s.attnum == e.attnum)
      s.db = InvalidOid;
    LWLockRelease(shared->lock);
  }
  pfree(entries);
}

void reload() {
  // Read before the scan: a bump during it makes the next statement read again.
  seen_generation = pg_atomic_read_u64(&shared->generation);
  n_watched = 0;
  n_sync_triggers = 0;
  reload_tracked();
  const Oid function = sync_trigger_function();
  if (!OidIsValid(function)) return;
  Relation triggers = table_open(TriggerRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(triggers, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  const TimestampTz now = GetCurrentTimestamp();
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tuple);
    if (t->tgfoid != function) continue;
    n_sync_triggers++;
    if (t->tgnargs != 7) continue;
    bool isnull;
    Datum value = heap_getattr(tuple, Anum_pg_trigger_tgargs, RelationGetDescr(triggers), &isnull);
    if (isnull) continue;
    bytea *args = DatumGetByteaPP(value);
    const char *p = VARDATA_ANY(args);  // NUL-separated: id, old column, ...
    const int64 migration = strtoll(p, nullptr, 10);
    const char *old_column = p + strlen(p) + 1;
    const AttrNumber attnum = get_attnum(t->tgrelid, old_column);
    if (attnum == InvalidAttrNumber) continue;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    const int slot = find_slot(migration, t->tgrelid, attnum, true, now);
    LWLockRelease(shared->lock);
    add_watched(t->tgrelid, attnum, migration, slot);
  }
  systable_endscan(scan);
  table_close(triggers, AccessShareLock);
}

// A statement of a migration (not of the application): of a transaction that changed the
// schema, or run by a migration tool holding its lock.
bool used_by_migration() {
  if (transaction_changed_schema()) return true;
  const zd::MigrationTool tool = detect_migration_tool();
  return tool == zd::MigrationTool::Prisma || tool == zd::MigrationTool::Knex ||
         tool == zd::MigrationTool::NodePgMigrate;
}

void record_use(Watched &w) {
  const char *app = application_name != nullptr ? application_name : "";
  const TimestampTz now = GetCurrentStatementStartTimestamp();
  if (now - w.recorded_at < USECS_PER_SEC && strcmp(w.recorded_app, app) == 0) return;
  if (w.migration == 0 && used_by_migration()) return;
  w.recorded_at = now;
  strlcpy(w.recorded_app, app, NAMEDATALEN);
  if (w.slot < 0) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  Slot &s = shared->slots[w.slot];
  if (s.db == MyDatabaseId && s.migration == w.migration && s.relid == w.relid) {
    if (now > s.last_used) s.last_used = now;
    int at = -1, oldest = 0;
    for (int i = 0; i < kApps; i++) {
      if (strcmp(s.apps[i].name, app) == 0 && s.apps[i].at != 0) at = i;
      if (s.apps[i].at < s.apps[oldest].at) oldest = i;
    }
    if (at < 0) {
      at = oldest;
      strlcpy(s.apps[at].name, app, NAMEDATALEN);
      s.apps[at].at = 0;
    }
    if (now > s.apps[at].at) s.apps[at].at = now;
  }
  LWLockRelease(shared->lock);
}

bool uses(AttrNumber attnum, const Bitmapset *columns) {
  return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, columns) ||
         bms_is_member(InvalidAttrNumber - FirstLowInvalidHeapAttributeNumber, columns);
}

void note_relation(Oid relid, const Bitmapset *selected, const Bitmapset *inserted,
                   const Bitmapset *updated, void *) {
  for (int i = 0; i < n_watched; i++) {
    Watched &w = watched[i];
    if (w.relid == relid && (w.attnum == 0 || uses(w.attnum, selected) ||
                             uses(w.attnum, inserted) || uses(w.attnum, updated)))
      record_use(w);
  }
}

void executor_start(QueryDesc *query, int eflags) {
  if (watching()) {
    if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
      compat::for_each_used_relation(query->plannedstmt, note_relation, nullptr);
  }
  if (prev_executor_start != nullptr)
    prev_executor_start(query, eflags);
  else
    standard_ExecutorStart(query, eflags);
}

void at_transaction_end(XactEvent event, void *) {
  // (Most transactions noted nothing: that test first, for every event of every transaction.)
  if (n_pending == 0 && !changed_in_transaction) return;
  if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT &&
      event != XACT_EVENT_PREPARE && event != XACT_EVENT_ABORT &&
      event != XACT_EVENT_PARALLEL_ABORT)
    return;
  const bool committed = event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE;
  if (committed && shared != nullptr) {
    const TimestampTz now = GetCurrentTimestamp();
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (int i = 0; i < n_pending; i++) {
      const Pending &p = pending[i];
      const int slot = find_slot(p.migration, p.relid, p.attnum, p.add, now);
      if (!p.add && slot >= 0) shared->slots[slot].db = InvalidOid;
      if (p.add && slot >= 0 && p.since_creation) shared->slots[slot].since_creation = true;
    }
    LWLockRelease(shared->lock);
    if (changed_in_transaction) pg_atomic_fetch_add_u64(&shared->generation, 1);
  }
  changed_in_transaction = false;
  n_pending = 0;
}

// The slot's applications used after `from`, most recent first: indexes into s.apps; returns
// how many.
int recent_apps(const Slot &s, TimestampTz from, int *order) {
  bool taken[kApps] = {};
  int n = 0;
  for (;;) {
    int best = -1;
    for (int i = 0; i < kApps; i++)
      if (!taken[i] && s.apps[i].at > from && (best < 0 || s.apps[i].at > s.apps[best].at))
        best = i;
    if (best < 0) return n;
    taken[best] = true;
    order[n++] = best;
  }
}

// This transaction changes what is watched: the commit callback bumps the generation (and
// applies the pending changes).  The callback is registered the first time this backend
// changes something (every transaction of every backend would call it).
void note_change_at_commit() {
  static bool registered = false;
  if (!registered) {
    RegisterXactCallback(at_transaction_end, nullptr);
    registered = true;
  }
  changed_in_transaction = true;
}

void add_pending(bool add, const Migration *m) {
  note_change_at_commit();
  const AttrNumber attnum = get_attnum(m->relid, m->old_column);
  if (n_pending < kPending) pending[n_pending++] = Pending{add, m->id, m->relid, attnum, false};
}

void add_pending_tracked(bool add, Oid relid, AttrNumber attnum, bool since_creation) {
  note_change_at_commit();
  if (n_pending < kPending) pending[n_pending++] = Pending{add, 0, relid, attnum, since_creation};
}

// How many slots tables and columns of no migration hold.  The lock is held by the caller.
int tracked_slots() {
  int n = 0;
  for (int i = 0; i < kSlots; i++)
    if (shared->slots[i].db != InvalidOid && shared->slots[i].migration == 0) n++;
  return n;
}

// zero_downtime.track_new_tables: a table created (a permanent plain or partitioned table, not
// by CREATE EXTENSION) is watched from its transaction's commit, as since its creation.
extern "C" void object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                              void *arg) {
  if (prev_object_access != nullptr) prev_object_access(access, class_id, object_id, sub_id, arg);
  if (access != OAT_POST_CREATE || class_id != RelationRelationId || sub_id != 0 ||
      !guc_track_new_tables || shared == nullptr || creating_extension ||
      object_id < FirstNormalObjectId)
    return;
  // (Its relcache entry is built already; its catalog row is not visible yet.)
  Relation rel = RelationIdGetRelation(object_id);
  if (!RelationIsValid(rel)) return;
  const bool table = (rel->rd_rel->relkind == RELKIND_RELATION ||
                      rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE) &&
                     rel->rd_rel->relpersistence == RELPERSISTENCE_PERMANENT;
  RelationClose(rel);
  if (table) add_pending_tracked(true, object_id, 0, true);
}

// The applications of `s` used after `from`, for a message: 'app' (at ...), ...
const char *apps_text(const Slot &s, TimestampTz from) {
  StringInfoData apps;
  initStringInfo(&apps);
  int order[kApps];
  const int n = recent_apps(s, from, order);
  for (int i = 0; i < n; i++)
    appendStringInfo(&apps, "%s'%s' (at %s)", apps.len ? ", " : "", s.apps[order[i]].name,
                     timestamptz_to_str(s.apps[order[i]].at));
  return apps.data;
}

// The table (attnum 0) or column of zd_track / zd_untrack / zd_usage: NULL column, the table.
AttrNumber tracked_attnum(FunctionCallInfo fcinfo, Oid relid) {
  if (PG_ARGISNULL(1)) return 0;
  const char *column = NameStr(*PG_GETARG_NAME(1));
  const AttrNumber attnum = get_attnum(relid, column);
  if (attnum <= 0)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("zero_downtime: column %s of %s does not exist",
                           quote_identifier(column), get_rel_name(relid))));
  return attnum;
}

}  // namespace

bool watching() {
  if (shared == nullptr || MyBackendType != B_BACKEND || IsParallelWorker()) return false;
  if (pg_atomic_read_u64(&shared->generation) != seen_generation) reload();
  return n_watched > 0;
}

bool sync_triggers_may_exist() {
  // Without shared memory (not preloaded) nothing tells: assume so.  A transaction that creates
  // or drops one sees its own change before the counter moves (at its commit).
  if (shared == nullptr || changed_in_transaction) return true;
  if (pg_atomic_read_u64(&shared->generation) != seen_generation) reload();
  return n_sync_triggers > 0;
}

void note_copy(Oid relid, List *attlist) {
  if (!watching()) return;
  Bitmapset *columns = nullptr;
  if (attlist == NIL) {
    columns = bms_make_singleton(InvalidAttrNumber - FirstLowInvalidHeapAttributeNumber);
  } else {
    ListCell *lc;
    foreach (lc, attlist) {
      const AttrNumber attnum = get_attnum(relid, strVal(lfirst(lc)));
      if (attnum != InvalidAttrNumber)
        columns = bms_add_member(columns, attnum - FirstLowInvalidHeapAttributeNumber);
    }
  }
  note_relation(relid, columns, nullptr, nullptr, nullptr);
}

void usage_watch_at_commit(const Migration *m) { add_pending(true, m); }

void fill_usage_evidence(Oid relid, AttrNumber attnum, zd::Operation *op) {
  op->usage_quiet_s = guc_contract_quiet_period_s;
  const zd::TableFacts &t = op->table;
  if (op->usage_quiet_s == 0 || !t.exists || t.created_in_transaction || t.temporary || t.empty)
    return;  // (not consulted, or the rule does not fire)
  if (shared == nullptr) {
    op->usage_unavailable = "recording it needs the library in shared_preload_libraries";
    return;
  }
  if (!OidIsValid(extension_schema())) {
    op->usage_unavailable = "the extension is not installed in this database";
    return;
  }
  const char *table_literal = quote_literal_cstr(t.name.c_str());
  const char *column_arg =
      attnum == 0 ? "" : psprintf(", %s", quote_literal_cstr(get_attname(relid, attnum, false)));
  op->usage_track_call =
      psprintf("SELECT %s.zd_track(%s%s)", schema_name(), table_literal, column_arg);
  op->usage_show_call =
      psprintf("SELECT * FROM %s.zd_usage(%s%s)", schema_name(), table_literal, column_arg);
  const TimestampTz now = GetCurrentTimestamp();
  const TimestampTz quiet_from = now - (TimestampTz) op->usage_quiet_s * USECS_PER_SEC;
  Slot copy;
  bool found = false, started = false, full = false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int slot = find_slot(0, relid, attnum, false, 0);
  if (slot < 0 && attnum != 0) {
    // A column: its table unused for the quiet period, watched that long, says it is unused.
    const int table_slot = find_slot(0, relid, 0, false, 0);
    if (table_slot >= 0) {
      const Slot &s = shared->slots[table_slot];
      if (s.last_used <= quiet_from && (s.since_creation || s.since <= quiet_from))
        slot = table_slot;
    }
  }
  if (slot >= 0) {
    copy = shared->slots[slot];
    found = true;
  } else if (tracked_slots() < kTrackedSlots) {
    started = find_slot(0, relid, attnum, true, now) >= 0;
  } else {
    full = true;
  }
  LWLockRelease(shared->lock);
  if (started) pg_atomic_fetch_add_u64(&shared->generation, 1);
  op->usage_track_started = started;
  if (full)
    op->usage_unavailable = psprintf("%d tables and columns are recorded already (zd_untrack "
                                     "lets go of one)", kTrackedSlots);
  // Once the DROP commits, every backend reads the list again and lets go of what is gone
  // (not freed here: a refused DROP in a subtransaction ends in the outer one's commit).
  note_change_at_commit();
  if (!found) return;
  op->usage_tracked = true;
  op->usage_since_creation = copy.since_creation;
  op->usage_tracked_s = (now - copy.since) / USECS_PER_SEC;
  op->usage_tracked_since = pstrdup(timestamptz_to_str(copy.since));
  if (copy.last_used != 0) {
    op->usage_idle_s = (now - copy.last_used) / USECS_PER_SEC;
    op->usage_last_used = pstrdup(timestamptz_to_str(copy.last_used));
    op->usage_applications = apps_text(copy, quiet_from);
  }
}
void usage_forget_at_commit(const Migration *m) { add_pending(false, m); }

void check_contract_evidence(const Migration *m, bool force) {
  const int quiet_s = guc_contract_quiet_period_s;
  if (quiet_s == 0) return;
  const char *force_hint = psprintf(
      "A role that may SET zero_downtime.contract_quiet_period (a superuser, or GRANT SET ON "
      "PARAMETER zero_downtime.contract_quiet_period) can force it: SELECT zd_contract(%lld, "
      "force => true).",
      (long long) m->id);
  if (force) {
    if (!superuser() &&
        pg_parameter_aclcheck("zero_downtime.contract_quiet_period", GetUserId(), ACL_SET) !=
            ACLCHECK_OK)
      ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                      errmsg("zero_downtime: permission denied to force the contract of "
                             "migration %lld",
                             (long long) m->id),
                      errdetail("Forcing it needs the right to SET "
                                "zero_downtime.contract_quiet_period."),
                      errhint("A superuser can GRANT SET ON PARAMETER "
                              "zero_downtime.contract_quiet_period TO %s.",
                              quote_identifier(GetUserNameFromId(GetUserId(), false)))));
    ereport(NOTICE, (errmsg("zero_downtime: contract of migration %lld forced: the use of %s "
                            "is not checked",
                            (long long) m->id, quote_identifier(m->old_column))));
    return;
  }
  if (shared == nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("zero_downtime: zd_contract(%lld) cannot tell whether %s is still used",
                    (long long) m->id, quote_identifier(m->old_column)),
             errdetail("Recording its use needs the library in shared_preload_libraries."),
             errhint("%s", force_hint)));
  const AttrNumber attnum = get_attnum(m->relid, m->old_column);
  const TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const int slot = find_slot(m->id, m->relid, attnum, true, now);
  Slot copy;
  if (slot >= 0) copy = shared->slots[slot];
  LWLockRelease(shared->lock);
  if (slot < 0)
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zero_downtime: zd_contract(%lld) cannot tell whether %s is still "
                           "used: %d migrations are watched already",
                           (long long) m->id, quote_identifier(m->old_column), kSlots),
                    errhint("%s", force_hint)));
  const TimestampTz quiet_from = now - (TimestampTz) quiet_s * USECS_PER_SEC;
  const char *quiet = psprintf("%d s", quiet_s);
  if (copy.last_used > quiet_from) {
    StringInfoData apps;
    initStringInfo(&apps);
    int order[kApps];
    const int n = recent_apps(copy, quiet_from, order);
    for (int i = 0; i < n; i++)
      appendStringInfo(&apps, "%s'%s' (at %s)", apps.len ? ", " : "", copy.apps[order[i]].name,
                       timestamptz_to_str(copy.apps[order[i]].at));
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_IN_USE),
             errmsg("zero_downtime: zd_contract(%lld) refused: column %s of %s was used %s ago",
                    (long long) m->id, quote_identifier(m->old_column), m->relation,
                    psprintf("%ld s", (long) ((now - copy.last_used) / USECS_PER_SEC))),
             errdetail("Queries of application_name %s read or wrote it, within "
                       "zero_downtime.contract_quiet_period (%s); contract drops it.",
                       apps.data, quiet),
             errhint("Deploy the code that uses %s instead, wait until nothing has used %s "
                     "for %s, then call zd_contract(%lld) again.  %s",
                     quote_identifier(m->new_column), quote_identifier(m->old_column), quiet,
                     (long long) m->id, force_hint)));
  }
  if (copy.since > quiet_from)
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_IN_USE),
             errmsg("zero_downtime: zd_contract(%lld) refused: column %s of %s has been "
                    "watched for %ld s only",
                    (long long) m->id, quote_identifier(m->old_column), m->relation,
                    (long) ((now - copy.since) / USECS_PER_SEC)),
             errdetail("No query has used it since %s (the migration's expand, or the "
                       "server's start), but zero_downtime.contract_quiet_period is %s.",
                       timestamptz_to_str(copy.since), quiet),
             errhint("Call zd_contract(%lld) again after %s.  %s", (long long) m->id,
                     timestamptz_to_str(copy.since + (TimestampTz) quiet_s * USECS_PER_SEC),
                     force_hint)));
}

void install_usage_hooks() {
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = executor_start;
  prev_object_access = object_access_hook;
  object_access_hook = object_access;
  // (The commit callback: when this backend first changes a migration or a record of use,
  // note_change_at_commit.)
  if (process_shared_preload_libraries_in_progress) {
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = usage_shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = usage_shmem_startup;
  }
}

}  // namespace zd::pg::expand

// zd_migration_usage(migration, relation, old_column): since when its old column is watched,
// when it was last used and by which application_names (most recent first); for the table's
// owner and pg_read_all_stats, else nulls.
ZD_SQL_FUNCTION(zd_migration_usage) {
  using namespace zd::pg::expand;
  const int64 migration = PG_GETARG_INT64(0);
  const Oid relid = PG_GETARG_OID(1);
  const char *column = NameStr(*PG_GETARG_NAME(2));
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "zd_migration_usage: return type must be a row type");
  Datum values[3] = {0, 0, 0};
  bool nulls[3] = {true, true, true};
  const AttrNumber attnum = get_attnum(relid, column);
  const bool may_see = get_rel_name(relid) != nullptr &&
                       (zd::pg::caller_owns_relation(relid) ||
                        has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS));
  if (shared != nullptr && may_see && attnum != InvalidAttrNumber) {
    LWLockAcquire(shared->lock, LW_SHARED);
    const int slot = find_slot(migration, relid, attnum, false, 0);
    Slot copy;
    if (slot >= 0) copy = shared->slots[slot];
    LWLockRelease(shared->lock);
    if (slot >= 0) {
      values[0] = TimestampTzGetDatum(copy.since);
      nulls[0] = false;
      if (copy.last_used != 0) {
        values[1] = TimestampTzGetDatum(copy.last_used);
        nulls[1] = false;
        Datum names[kApps];
        int order[kApps];
        const int n = recent_apps(copy, 0, order);
        for (int i = 0; i < n; i++) names[i] = CStringGetTextDatum(copy.apps[order[i]].name);
        values[2] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
        nulls[2] = false;
      }
    }
  }
  return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

namespace zd::pg::expand {
namespace {

// The relation of zd_track / zd_untrack: a permanent table the caller owns.
Oid tracked_relation(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: relation must not be NULL")));
  const Oid relid = PG_GETARG_OID(0);
  const char relkind = get_rel_relkind(relid);
  if (relkind == '\0')
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("zero_downtime: relation with OID %u does not exist", relid)));
  if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
      get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                    errmsg("zero_downtime: %s is not a permanent table", get_rel_name(relid))));
  if (!caller_owns_relation(relid))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("zero_downtime: must be owner of table %s to record its use",
                           get_rel_name(relid))));
  if (shared == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("zero_downtime: recording the use of tables needs the library in "
                           "shared_preload_libraries")));
  return relid;
}

}  // namespace
}  // namespace zd::pg::expand

// zd_track(relation, column_name): records from now (or since earlier, when it was already)
// when a query last used the table (NULL column) or the column, and by which
// application_name; returns since when.  For drop-table and drop-column.
ZD_SQL_FUNCTION(zd_track) {
  using namespace zd::pg::expand;
  const Oid relid = tracked_relation(fcinfo);
  const AttrNumber attnum = tracked_attnum(fcinfo, relid);
  const TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int slot = find_slot(0, relid, attnum, false, 0);
  const bool room = slot >= 0 || tracked_slots() < kTrackedSlots;
  if (slot < 0 && room) slot = find_slot(0, relid, attnum, true, now);
  const TimestampTz since = slot >= 0 ? shared->slots[slot].since : 0;
  LWLockRelease(shared->lock);
  if (slot < 0)
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zero_downtime: the use of %d tables and columns is recorded "
                           "already", kTrackedSlots),
                    errhint("zd_untrack(relation, column_name) lets go of one.")));
  pg_atomic_fetch_add_u64(&shared->generation, 1);
  PG_RETURN_TIMESTAMPTZ(since);
}

// zd_untrack(relation, column_name): stops recording it; false when it was not.
ZD_SQL_FUNCTION(zd_untrack) {
  using namespace zd::pg::expand;
  const Oid relid = tracked_relation(fcinfo);
  const AttrNumber attnum = tracked_attnum(fcinfo, relid);
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const int slot = find_slot(0, relid, attnum, false, 0);
  if (slot >= 0) shared->slots[slot].db = InvalidOid;
  LWLockRelease(shared->lock);
  if (slot >= 0) pg_atomic_fetch_add_u64(&shared->generation, 1);
  PG_RETURN_BOOL(slot >= 0);
}

// zd_usage(relation, column_name): since when the use of the table (NULL column) or column is
// recorded (NULL: it is not), whether since its creation, when an application last used it
// and which application_names (most recent first); for the table's owner and
// pg_read_all_stats, else nulls.
ZD_SQL_FUNCTION(zd_usage) {
  using namespace zd::pg::expand;
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  const Oid relid = PG_GETARG_OID(0);
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "zd_usage: return type must be a row type");
  Datum values[4] = {0, 0, 0, 0};
  bool nulls[4] = {true, true, true, true};
  const bool may_see = get_rel_name(relid) != nullptr &&
                       (zd::pg::caller_owns_relation(relid) ||
                        has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS));
  if (shared != nullptr && may_see) {
    const AttrNumber attnum = tracked_attnum(fcinfo, relid);
    LWLockAcquire(shared->lock, LW_SHARED);
    const int slot = find_slot(0, relid, attnum, false, 0);
    Slot copy;
    if (slot >= 0) copy = shared->slots[slot];
    LWLockRelease(shared->lock);
    if (slot >= 0) {
      values[0] = TimestampTzGetDatum(copy.since);
      values[1] = BoolGetDatum(copy.since_creation);
      nulls[0] = nulls[1] = false;
      if (copy.last_used != 0) {
        values[2] = TimestampTzGetDatum(copy.last_used);
        nulls[2] = false;
        Datum names[kApps];
        int order[kApps];
        const int n = recent_apps(copy, 0, order);
        for (int i = 0; i < n; i++) names[i] = CStringGetTextDatum(copy.apps[order[i]].name);
        values[3] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
        nulls[3] = false;
      }
    }
  }
  return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}
