#include "pg/table_facts.hpp"

extern "C" {
#include "access/relation.h"
#include "access/relscan.h"
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
  TableScanDesc scan = table_beginscan(rel, snapshot, 0, nullptr);
  TupleTableSlot *slot = table_slot_create(rel, nullptr);
  bool found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
  ExecDropSingleTupleTableSlot(slot);
  table_endscan(scan);
  UnregisterSnapshot(snapshot);
  return found;
}

// Size of one relation's main fork: exact when it can be locked without waiting, else the
// pg_class estimate (someone holds or awaits an ACCESS EXCLUSIVE lock on it).
int64 relation_bytes(Oid relid, bool check_empty, bool *empty, bool *created_here) {
  *empty = false;
  *created_here = false;
  if (!ConditionalLockRelationOid(relid, AccessShareLock)) {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup)) return 0;
    int64 pages = ((Form_pg_class) GETSTRUCT(tup))->relpages;
    ReleaseSysCache(tup);
    return pages * BLCKSZ;
  }
  Relation rel = try_relation_open(relid, NoLock);
  int64 bytes = 0;
  if (rel != nullptr) {
    *created_here = rel->rd_createSubid != InvalidSubTransactionId;
    // A relation without storage (a partitioned table, a view) holds no row of its own.
    *empty = !RELKIND_HAS_STORAGE(rel->rd_rel->relkind);
    if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind)) {
      BlockNumber pages = RelationGetNumberOfBlocks(rel);
      bytes = (int64) pages * BLCKSZ;
      if (check_empty && rel->rd_rel->relkind != RELKIND_INDEX)
        *empty = pages == 0 || (pages <= kEmptinessScanPages && !has_visible_row(rel));
    }
    relation_close(rel, NoLock);
  }
  UnlockRelationOid(relid, AccessShareLock);
  return bytes;
}

}  // namespace

const char *qualified_relation_name(Oid relid) {
  char *relname = get_rel_name(relid);
  if (relname == nullptr) return "";  // gone, or never there: PostgreSQL reports it
  char *nspname = get_namespace_name(get_rel_namespace(relid));
  return quote_qualified_identifier(nspname, relname);
}

bool is_table(Oid relid) {
  char kind = get_rel_relkind(relid);
  return kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE;
}

void fill_table_facts(Oid relid, bool check_empty, zd::TableFacts *t) {
  if (!OidIsValid(relid)) return;
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tup)) return;
  Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
  t->exists = true;
  t->temporary = cls->relpersistence == RELPERSISTENCE_TEMP;
  t->partitioned = cls->relkind == RELKIND_PARTITIONED_TABLE;
  t->estimated_rows = cls->reltuples;
  ReleaseSysCache(tup);
  t->name = qualified_relation_name(relid);

  bool empty, created_here;
  int64 bytes = relation_bytes(relid, check_empty, &empty, &created_here);
  t->created_in_transaction = created_here;
  if (t->partitioned) {
    // A partitioned table has no storage of its own: its size is its leaves'.
    bool all_empty = true;
    ListCell *lc;
    foreach (lc, find_all_inheritors(relid, NoLock, nullptr)) {
      Oid child = lfirst_oid(lc);
      if (child == relid) continue;
      bool child_empty, child_created;
      bytes += relation_bytes(child, check_empty, &child_empty, &child_created);
      all_empty = all_empty && child_empty;
    }
    empty = all_empty;
  }
  t->size_known = true;
  t->size_bytes = bytes;
  t->empty = check_empty && empty;
}

}  // namespace zd::pg
