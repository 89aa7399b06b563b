// Records the use of watched columns and tables: when each was last read or written, and by
// which application_name; the judgments on that record (contract, DROP) and the SQL functions
// that show it are in usage_evidence.cpp.  Here: the shared slots the record lives in, the
// executor hook and COPY note that record a use, the commit callback that applies what a
// transaction changed in what is watched.
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
#include "pg/expand/usage_internal.hpp"

#include "pg/compat.h"
#include "pg/deferral.hpp"
#include "pg/guc.hpp"
#include "pg/held_locks.hpp"
#include "pg/migration_tool.hpp"

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
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace zd::pg::expand {
using namespace usage;

Shared *usage::shared = nullptr;

// (usage_internal.hpp)
int usage::find_slot(int64 migration, Oid relid, AttrNumber attnum, bool add, TimestampTz since) {
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

namespace {

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

}  // namespace

// (usage_internal.hpp)  The commit callback bumps the generation (and applies the pending
// changes).  It is registered the first time this backend changes something (every
// transaction of every backend would call it).
void usage::note_change_at_commit() {
  static bool registered = false;
  if (!registered) {
    RegisterXactCallback(at_transaction_end, nullptr);
    registered = true;
  }
  changed_in_transaction = true;
}

namespace {

void add_pending(bool add, const Migration *m) {
  note_change_at_commit();
  const AttrNumber attnum = get_attnum(m->relid, m->old_column);
  if (n_pending < kPending) pending[n_pending++] = Pending{add, m->id, m->relid, attnum, false};
}

void add_pending_tracked(bool add, Oid relid, AttrNumber attnum, bool since_creation) {
  note_change_at_commit();
  if (n_pending < kPending) pending[n_pending++] = Pending{add, 0, relid, attnum, since_creation};
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

void usage_forget_at_commit(const Migration *m) { add_pending(false, m); }

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
