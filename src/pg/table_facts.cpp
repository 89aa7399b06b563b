#include "pg/table_facts.hpp"

#include "pg/trusted_code.hpp"

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
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "executor/tuptable.h"
#include "utils/inval.h"
#include "utils/memutils.h"
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

// A relation's pg_class row as gathering reads it, several times for one statement (is it a
// table, its name, whether this transaction wrote it, has it inheritance children): looked up
// once.  A memo of the last relation read, good only for the statement being gathered (see
// forget_class_rows) and the command it runs in: a later command may have changed the row.
struct ClassRow {
  Oid relid = InvalidOid;
  uint64 epoch = 0;
  CommandId command = InvalidCommandId;
  bool found = false;
  char relkind = 0;
  char relpersistence = 0;
  bool has_subclass = false;
  bool written_here = false;  // this transaction wrote the row (created or altered it)
  Oid nsp = InvalidOid;
  Oid owner = InvalidOid;
  float4 reltuples = -1;
  int32 relpages = 0;
  NameData relname;
};

ClassRow last_row;
uint64 gathering_epoch = 1;

const ClassRow &class_row(Oid relid) {
  const CommandId command = GetCurrentCommandId(false);
  if (last_row.relid == relid && last_row.epoch == gathering_epoch && last_row.command == command)
    return last_row;
  last_row = ClassRow{};
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (HeapTupleIsValid(tup)) {
    const Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
    last_row.found = true;
    last_row.relkind = cls->relkind;
    last_row.relpersistence = cls->relpersistence;
    last_row.has_subclass = cls->relhassubclass;
    last_row.written_here =
        TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data));
    last_row.nsp = cls->relnamespace;
    last_row.owner = cls->relowner;
    last_row.reltuples = cls->reltuples;
    last_row.relpages = cls->relpages;
    last_row.relname = cls->relname;
    ReleaseSysCache(tup);
  }
  last_row.relid = relid;
  last_row.epoch = gathering_epoch;
  last_row.command = command;
  return last_row;
}

// The schema-qualified, quoted names of the relations named last: quote_identifier and the
// schema's name are most of what naming a relation costs, and a migration names the same few
// tables again and again.  Keyed by the relation, its schema and its own name (a renamed table
// misses); a renamed schema empties it (a syscache callback).  Names are copied out, never
// pointed into: a later statement may replace an entry while facts still use the name.
struct NamedRelation {
  Oid relid = InvalidOid;
  Oid nsp = InvalidOid;
  NameData relname;
  char *qualified = nullptr;  // in TopMemoryContext
  size_t length = 0;
};

constexpr int kNamedRelations = 8;
NamedRelation named[kNamedRelations];
int next_named = 0;
bool named_callback_registered = false;

void forget_named_relations(Datum, ZD_SYSCACHE_ID, uint32) {
  for (NamedRelation &n : named) n.relid = InvalidOid;
}

// quote_qualified_identifier without its psprintf.
const char *qualified_name(const char *nspname, const char *relname) {
  const char *nsp = quote_identifier(nspname), *rel = quote_identifier(relname);
  const size_t n = strlen(nsp), r = strlen(rel);
  char *name = (char *) palloc(n + 1 + r + 1);
  memcpy(name, nsp, n);
  name[n] = '.';
  memcpy(name + n + 1, rel, r + 1);
  return name;
}

const char *copy_of(const NamedRelation &n) {
  char *copy = (char *) palloc(n.length + 1);
  memcpy(copy, n.qualified, n.length + 1);
  return copy;
}

const char *named_relation(const ClassRow &row) {
  for (const NamedRelation &n : named)
    if (n.relid == row.relid && n.nsp == row.nsp &&
        strcmp(NameStr(n.relname), NameStr(row.relname)) == 0)
      return copy_of(n);
  const char *nspname = get_namespace_name(row.nsp);
  if (nspname == nullptr) return "";  // (its schema dropped meanwhile: PostgreSQL reports it)
  const char *name = qualified_name(nspname, NameStr(row.relname));
  if (!named_callback_registered) {
    CacheRegisterSyscacheCallback(NAMESPACEOID, forget_named_relations, (Datum) 0);
    named_callback_registered = true;
  }
  NamedRelation &slot = named[next_named];
  next_named = (next_named + 1) % kNamedRelations;
  if (slot.qualified != nullptr) pfree(slot.qualified);
  slot.qualified = MemoryContextStrdup(TopMemoryContext, name);
  slot.length = strlen(name);
  slot.relid = row.relid;
  slot.nsp = row.nsp;
  slot.relname = row.relname;
  return name;
}

// Looks at one relation under an ACCESS SHARE lock taken only if it is free now: a relation
// someone holds or awaits ACCESS EXCLUSIVE on is described from pg_class instead.  The size
// costs a file open and lseek, so it is read only when `size` asks for it.
RelationLook look_at_relation(Oid relid, bool size, bool check_empty) {
  RelationLook look;
  // Without the size, only whether it was created here: never, unless this transaction wrote
  // its pg_class row (created or altered it), which the row's xmin tells without a lock.
  if (!size && !class_row(relid).written_here) return look;
  if (!ConditionalLockRelationOid(relid, AccessShareLock)) {
    if (!size) return look;
    const ClassRow &row = class_row(relid);
    if (row.found) look.bytes = (int64) row.relpages * BLCKSZ;
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
  const char kind = class_row(relid).relkind;
  return kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE;
}

bool relation_has_subclass(Oid relid) { return class_row(relid).has_subclass; }

bool caller_owns_gathered_relation(Oid relid) {
  const ClassRow &row = class_row(relid);
  if (!row.found) return caller_owns_relation(relid);  // (PostgreSQL's own error)
  // As pg_class_ownercheck / object_ownercheck decide, from the row already read.
  const Oid user = GetUserId();
  return superuser_arg(user) || has_privs_of_role(user, row.owner);
}

void forget_class_rows() { gathering_epoch++; }

void fill_table_facts(Oid relid, zd::TableFacts *t) {
  if (!OidIsValid(relid)) return;
  const ClassRow &row = class_row(relid);
  if (!row.found) return;
  t->exists = true;
  t->oid = relid;
  t->temporary = row.relpersistence == RELPERSISTENCE_TEMP;
  t->partitioned = row.relkind == RELKIND_PARTITIONED_TABLE;
  t->estimated_rows = row.reltuples;
  t->name = named_relation(row);
}

void fill_table_state(Oid relid, bool size, bool check_empty, bool with_inheritors,
                      zd::TableFacts *t) {
  if (!OidIsValid(relid) || !t->exists) return;  // (a statement naming no table: unknown)
  RelationLook look = look_at_relation(relid, size, check_empty);
  t->created_in_transaction = look.created_here;
  if (!size) return;
  int64 bytes = look.bytes;
  bool empty = look.empty;
  if (t->partitioned || (with_inheritors && relation_has_subclass(relid))) {
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
