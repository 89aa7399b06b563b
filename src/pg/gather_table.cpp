// Gathering for RENAME of tables and columns, VACUUM FULL, CLUSTER and REPACK.
#include "pg/gather_internal.hpp"

#include "pg/table_facts.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// An operation on every table of the database (VACUUM FULL or CLUSTER without a table).
// VACUUM and bare CLUSTER: each table in a transaction of its own, never in a transaction
// block (PreventInTransactionBlock).
void add_database_wide(Gathering *g, zd::OpKind kind, const char *command) {
  zd::Operation *op = add_operation(g, kind, InvalidOid, AccessExclusiveLock, command);
  op->table.exists = true;
  op->table.name = psprintf("every table of database %s",
                            quote_identifier(get_database_name(MyDatabaseId)));
  op->no_transaction_block = true;
}

// Whether REPACK (CONCURRENTLY) could rebuild the table: it needs an identity index, the
// primary key under REPLICA IDENTITY DEFAULT or the index REPLICA IDENTITY USING INDEX names,
// valid.  Read from the catalog (pg_class, pg_index), the table not opened.
bool has_identity_index(Oid relid) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) return false;
  const char identity = ((Form_pg_class) GETSTRUCT(tuple))->relreplident;
  ReleaseSysCache(tuple);
  if (identity != REPLICA_IDENTITY_DEFAULT && identity != REPLICA_IDENTITY_INDEX) return false;
  bool found = false;
  Relation pg_index = table_open(IndexRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(pg_index, IndexIndrelidIndexId, true, nullptr, 1, &key);
  for (HeapTuple t = systable_getnext(scan); !found && HeapTupleIsValid(t);
       t = systable_getnext(scan)) {
    const Form_pg_index index = (Form_pg_index) GETSTRUCT(t);
    found = index->indisvalid && (identity == REPLICA_IDENTITY_DEFAULT ? index->indisprimary
                                                                        : index->indisreplident);
  }
  systable_endscan(scan);
  table_close(pg_index, AccessShareLock);
  return found;
}

}  // namespace

void gather_rename(Gathering *g, RenameStmt *stmt) {
  if (stmt->renameType == OBJECT_COLUMN && stmt->relationType == OBJECT_TABLE) {
    g->recurses = stmt->relation->inh;  // renameatt recurses unless ONLY
    Oid relid = lookup_relation(stmt->relation);
    if (!OidIsValid(relid)) return;
    if (!is_table(relid)) {
      gather_rename_other(g, stmt);  // a view's or a sequence's column: the lock cap only
      return;
    }
    AttrNumber attnum = get_attnum(relid, stmt->subname);
    if (attnum == InvalidAttrNumber) return;
    zd::Operation *op = add_operation(g, zd::OpKind::RenameColumn, relid, AccessExclusiveLock,
                                      "ALTER TABLE ... RENAME COLUMN", true);
    op->column = quote_identifier(stmt->subname);
    op->new_name = quote_identifier(stmt->newname);
    Oid type, collation;
    int32 typmod;
    get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
    op->column_type = format_type_with_typemod(type, typmod);
    return;
  }
  if (stmt->renameType == OBJECT_TABLE) {
    // ALTER TABLE also renames indexes, views and sequences: not what this rule is about.
    Oid relid = lookup_relation(stmt->relation);
    if (!OidIsValid(relid)) return;
    if (!is_table(relid)) {
      gather_rename_other(g, stmt);
      return;
    }
    zd::Operation *op = add_operation(g, zd::OpKind::RenameTable, relid, AccessExclusiveLock,
                                      "ALTER TABLE ... RENAME", true);
    op->new_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                              stmt->newname);
    return;
  }
  gather_rename_other(g, stmt);
}

void gather_vacuum(Gathering *g, VacuumStmt *stmt) {
  bool full = false;
  ListCell *lc;
  foreach (lc, stmt->options) {
    DefElem *opt = (DefElem *) lfirst(lc);
    if (strcmp(opt->defname, "full") == 0) full = defGetBoolean(opt);
  }
  if (!stmt->is_vacuumcmd || !full) return;  // plain VACUUM and ANALYZE block nobody
  if (stmt->rels == NIL) {
    add_database_wide(g, zd::OpKind::VacuumFull, "VACUUM FULL");
    return;
  }
  foreach (lc, stmt->rels) {
    VacuumRelation *vrel = lfirst_node(VacuumRelation, lc);
    Oid relid = lookup_relation(vrel->relation);
    if (!OidIsValid(relid)) continue;
    zd::Operation *op =
        add_operation(g, zd::OpKind::VacuumFull, relid, AccessExclusiveLock, "VACUUM FULL");
    op->no_transaction_block = true;
    op->identity_index = has_identity_index(relid);
  }
}

// CLUSTER, and since 19 REPACK (the same statement).  REPACK (CONCURRENTLY) copies the table
// under SHARE UPDATE EXCLUSIVE and takes ACCESS EXCLUSIVE only to swap the copy in: the lock
// cap's, not a rule's.
void gather_cluster(Gathering *g, compat::ClusterStatement *stmt) {
  if (compat::repack_concurrently(stmt)) return;
  const bool repack = compat::is_repack(stmt);
  const zd::OpKind kind = repack ? zd::OpKind::Repack : zd::OpKind::Cluster;
  const char *command = repack ? "REPACK" : "CLUSTER";
  RangeVar *relation = ZD_CLUSTER_RELATION(stmt);
  if (relation == nullptr) {
    add_database_wide(g, kind, command);
    return;
  }
  Oid relid = lookup_relation(relation);
  if (!OidIsValid(relid)) return;
  zd::Operation *op = add_operation(g, kind, relid, AccessExclusiveLock, command);
  op->orders_by_index = compat::cluster_uses_index(stmt);
  if (compat::cluster_index_name(stmt) != nullptr)
    op->index_name = quote_identifier(compat::cluster_index_name(stmt));
  op->identity_index = has_identity_index(relid);
}

}  // namespace zd::pg
