#include "pg/table_facts.hpp"

extern "C" {
#include "access/relation.h"
#include "access/relscan.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "executor/tuptable.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// Above this many pages a table is taken to hold rows without scanning it for one.
const BlockNumber kEmptinessScanPages = 16;

bool has_visible_row(Relation rel) {
  Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
  TableScanDesc scan = ZD_TABLE_BEGINSCAN(rel, snapshot, 0, nullptr);
  TupleTableSlot *slot = table_slot_create(rel, nullptr);
  bool found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
  ExecDropSingleTupleTableSlot(slot);
  table_endscan(scan);
  UnregisterSnapshot(snapshot);
  return found;
}

struct RelationLook {
  bool created_here = false;  // created (or given new storage) in this transaction
  int64 bytes = 0;            // main fork size: exact, or pg_class's estimate when not locked
  bool empty = false;         // holds no row (only when asked for)
};

bool pg_class_row_written_here(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tup)) return false;
  const bool here = TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data));
  ReleaseSysCache(tup);
  return here;
}

// Looks at one relation under an ACCESS SHARE lock taken only if it is free now: a relation
// someone holds or awaits ACCESS EXCLUSIVE on is described from pg_class instead.  The size
// costs a file open and lseek, so it is read only when `size` asks for it.
RelationLook look_at_relation(Oid relid, bool size, bool check_empty) {
  RelationLook look;
  // Without the size, only whether it was created here: never, unless this transaction wrote
  // its pg_class row (created or altered it), which the row's xmin tells without a lock.
  if (!size && !pg_class_row_written_here(relid)) return look;
  if (!ConditionalLockRelationOid(relid, AccessShareLock)) {
    if (!size) return look;
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup)) return look;
    look.bytes = (int64) ((Form_pg_class) GETSTRUCT(tup))->relpages * BLCKSZ;
    ReleaseSysCache(tup);
    return look;
  }
  Relation rel = try_relation_open(relid, NoLock);
  if (rel != nullptr) {
    look.created_here = rel->rd_createSubid != InvalidSubTransactionId;
    // A relation without storage (a partitioned table, a view) holds no row of its own.
    look.empty = !RELKIND_HAS_STORAGE(rel->rd_rel->relkind);
    if (size && RELKIND_HAS_STORAGE(rel->rd_rel->relkind)) {
      BlockNumber pages = RelationGetNumberOfBlocks(rel);
      look.bytes = (int64) pages * BLCKSZ;
      if (check_empty && rel->rd_rel->relkind != RELKIND_INDEX)
        look.empty = pages == 0 || (pages <= kEmptinessScanPages && !has_visible_row(rel));
    }
    relation_close(rel, NoLock);
  }
  UnlockRelationOid(relid, AccessShareLock);
  return look;
}

// quote_qualified_identifier without its psprintf: this runs for every relation gathered.
const char *qualified_name(const char *nspname, const char *relname) {
  const char *nsp = quote_identifier(nspname), *rel = quote_identifier(relname);
  const size_t n = strlen(nsp), r = strlen(rel);
  char *name = (char *) palloc(n + 1 + r + 1);
  memcpy(name, nsp, n);
  name[n] = '.';
  memcpy(name + n + 1, rel, r + 1);
  return name;
}

}  // namespace

const char *qualified_relation_name(Oid relid) {
  char *relname = get_rel_name(relid);
  if (relname == nullptr) return "";  // gone, or never there: PostgreSQL reports it
  char *nspname = get_namespace_name(get_rel_namespace(relid));
  return quote_qualified_identifier(nspname, relname);
}

bool relation_is_private(Oid relid) {
  if (!OidIsValid(relid)) return false;
  if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP) return true;
  return look_at_relation(relid, false, false).created_here;
}

bool is_table(Oid relid) {
  char kind = get_rel_relkind(relid);
  return kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE;
}

void fill_table_facts(Oid relid, zd::TableFacts *t) {
  if (!OidIsValid(relid)) return;
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tup)) return;
  Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
  t->exists = true;
  t->oid = relid;
  t->temporary = cls->relpersistence == RELPERSISTENCE_TEMP;
  t->partitioned = cls->relkind == RELKIND_PARTITIONED_TABLE;
  t->estimated_rows = cls->reltuples;
  t->name = qualified_name(get_namespace_name(cls->relnamespace), NameStr(cls->relname));
  ReleaseSysCache(tup);
}

void fill_table_state(Oid relid, bool size, bool check_empty, bool with_inheritors,
                      zd::TableFacts *t) {
  if (!OidIsValid(relid) || !t->exists) return;  // (a statement naming no table: unknown)
  RelationLook look = look_at_relation(relid, size, check_empty);
  t->created_in_transaction = look.created_here;
  if (!size) return;
  int64 bytes = look.bytes;
  bool empty = look.empty;
  if (t->partitioned || (with_inheritors && has_subclass(relid))) {
    // A partitioned table has no storage of its own: its size is its leaves'.  A statement
    // that recurses into inheritance children acts on their rows too.
    bool all_empty = empty;  // the table's own rows (none for a partitioned table), then theirs
    ListCell *lc;
    foreach (lc, find_all_inheritors(relid, NoLock, nullptr)) {
      Oid child = lfirst_oid(lc);
      if (child == relid) continue;
      RelationLook leaf = look_at_relation(child, true, check_empty);
      bytes += leaf.bytes;
      all_empty = all_empty && leaf.empty;
    }
    empty = all_empty;
  }
  t->size_known = true;
  t->size_bytes = bytes;
  t->empty = check_empty && empty;
}

}  // namespace zd::pg
