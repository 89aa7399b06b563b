// Gathering for RENAME of tables and columns, VACUUM FULL, CLUSTER.
#include "pg/gather_internal.hpp"

#include "pg/table_facts.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
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
    if (OidIsValid(relid))
      add_operation(g, zd::OpKind::VacuumFull, relid, AccessExclusiveLock, "VACUUM FULL")
          ->no_transaction_block = true;
  }
}

void gather_cluster(Gathering *g, compat::ClusterStatement *stmt) {
  RangeVar *relation = ZD_CLUSTER_RELATION(stmt);
  if (relation == nullptr) {
    add_database_wide(g, zd::OpKind::Cluster, "CLUSTER");
    return;
  }
  Oid relid = lookup_relation(relation);
  if (OidIsValid(relid))
    add_operation(g, zd::OpKind::Cluster, relid, AccessExclusiveLock, "CLUSTER");
}

}  // namespace zd::pg
