// Gathering for CREATE INDEX, DROP INDEX / DROP TABLE, REINDEX, REFRESH MATERIALIZED VIEW.
#include "pg/gather_internal.hpp"

#include "pg/sql_tokens.hpp"
#include "pg/table_facts.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// The column part of an index name, as PostgreSQL builds it: col1_col2, or expr.
const char *index_name_columns(const IndexStmt *stmt) {
  StringInfoData columns;
  initStringInfo(&columns);
  ListCell *lc;
  foreach (lc, stmt->indexParams) {
    IndexElem *elem = lfirst_node(IndexElem, lc);
    const char *name = elem->indexcolname ? elem->indexcolname : elem->name ? elem->name : "expr";
    if (columns.len > 0) appendStringInfoChar(&columns, '_');
    appendStringInfoString(&columns, name);
    if (columns.len >= NAMEDATALEN) break;
  }
  return columns.data;
}

// What holds `name` in namespace `nsp`, for an index of relation `relid`.  `parent_index`: the
// INVALID partitioned index a re-run reuses, when `relid` is one of its table's partitions.
zd::IndexNameHolder index_name_holder(const char *name, Oid nsp, Oid relid, Oid parent_index) {
  const Oid rel = get_relname_relid(name, nsp);
  if (!OidIsValid(rel)) return zd::IndexNameHolder::Free;
  HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(rel));
  if (!HeapTupleIsValid(tuple)) return zd::IndexNameHolder::Other;
  const Form_pg_index index = (Form_pg_index) GETSTRUCT(tuple);
  const Oid table = index->indrelid;
  const bool valid = index->indisvalid;
  ReleaseSysCache(tuple);
  if (table != relid || OidIsValid(get_index_constraint(rel))) return zd::IndexNameHolder::Other;
  if (get_rel_relispartition(rel)) return zd::IndexNameHolder::Other;  // attached elsewhere
  if (!valid) return zd::IndexNameHolder::InvalidLeftover;
  return OidIsValid(parent_index) ? zd::IndexNameHolder::ValidUnattached
                                  : zd::IndexNameHolder::ValidIndex;
}

// The name PostgreSQL would choose for an unnamed index (table_col1_col2_idx, made unique),
// except that the INVALID index an interrupted run of the statement left under one of those
// names is that run's: the re-run takes its name (and replaces or reuses it) instead of
// building a second index beside it.
char *choose_index_name(Oid relid, const IndexStmt *stmt) {
  const char *label = stmt->primary ? "pkey" : stmt->isconstraint ? "key" : "idx";
  const Oid nsp = get_rel_namespace(relid);
  if (stmt->primary || stmt->isconstraint)
    return ChooseRelationName(get_rel_name(relid), index_name_columns(stmt), label, nsp, true);
  const char *columns = index_name_columns(stmt);
  for (int pass = 0;; pass++) {
    char *name = makeObjectName(get_rel_name(relid), columns,
                                pass == 0 ? label : psprintf("%s%d", label, pass));
    const zd::IndexNameHolder holder = index_name_holder(name, nsp, relid, InvalidOid);
    if (holder == zd::IndexNameHolder::Free || holder == zd::IndexNameHolder::InvalidLeftover)
      return name;
  }
}

// The end of the table's (possibly qualified) name in CREATE INDEX ... ON name: the rest of
// the statement (USING, columns, INCLUDE, WITH, TABLESPACE, WHERE) can be reused verbatim.
int offset_after_relation_name(const Gathering *g, const RangeVar *rv) {
  SqlToken *tokens;
  int n = lex_tokens(g->sql, &tokens);
  int at = statement_offset(g, rv->location);
  for (int i = 0; i < n; i++) {
    if (tokens[i].start != at) continue;
    while (i + 2 < n && token_is(g->sql, tokens[i + 1], ".")) i += 2;
    return tokens[i].end;
  }
  return -1;
}

// The name PostgreSQL would give the index of partition `child` (ChooseRelationName), but free
// also of the names `taken` by the other partitions' indexes of this statement: two partitions
// whose names share their first 63 bytes would otherwise get the same one.  An INVALID index an
// interrupted run left under one of those names is taken over (dropped and built again), and
// so, when the re-run reuses that run's INVALID `parent_index`, is a valid one it built but did
// not attach yet (attached, not built again).
char *choose_partition_index_name(Oid child, const char *columns, List *taken, Oid parent_index,
                                  zd::IndexNameHolder *holder) {
  const Oid nsp = get_rel_namespace(child);
  for (int pass = 0;; pass++) {
    char *name = makeObjectName(get_rel_name(child), columns,
                                pass == 0 ? "idx" : psprintf("idx%d", pass));
    bool clash = false;
    ListCell *lc;
    foreach (lc, taken) clash = clash || strcmp((const char *) lfirst(lc), name) == 0;
    if (clash) continue;
    *holder = index_name_holder(name, nsp, child, parent_index);
    if (*holder == zd::IndexNameHolder::Free || *holder == zd::IndexNameHolder::InvalidLeftover ||
        *holder == zd::IndexNameHolder::ValidUnattached)
      return name;
  }
}

// The index of partition `child` attached to `parent_index` already, else InvalidOid.
Oid attached_index(Oid parent_index, Oid child) {
  if (!OidIsValid(parent_index)) return InvalidOid;
  ListCell *lc;
  foreach (lc, find_inheritance_children(parent_index, NoLock)) {
    const Oid index = lfirst_oid(lc);
    if (IndexGetRelation(index, true) == child) return index;
  }
  return InvalidOid;
}

// Each partition of a partitioned table, and the name of the index it gets.  `parent_index`:
// the INVALID partitioned index an interrupted run left, that this run reuses (or InvalidOid).
void gather_partitions(Gathering *g, zd::Operation *op, Oid relid, const IndexStmt *stmt,
                       Oid parent_index) {
  List *children = find_inheritance_children(relid, NoLock);
  int n = list_length(children);
  zd::Text *names = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
  zd::Text *index_names = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
  zd::Text *index_qualified = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
  zd::IndexNameHolder *holders =
      (zd::IndexNameHolder *) palloc0(sizeof(zd::IndexNameHolder) * (n + 1));
  const char *columns = index_name_columns(stmt);
  List *taken = NIL;
  for (int i = 0; i < n; i++) {
    Oid child = list_nth_oid(children, i);
    if (get_rel_relkind(child) == RELKIND_PARTITIONED_TABLE) op->nested_partitions = true;
    Oid nsp = get_rel_namespace(child);
    const Oid attached = attached_index(parent_index, child);
    char *index;
    if (OidIsValid(attached)) {
      index = get_rel_name(attached);
      nsp = get_rel_namespace(attached);
      holders[i] = zd::IndexNameHolder::Attached;
    } else {
      index = choose_partition_index_name(child, columns, taken, parent_index, &holders[i]);
      taken = lappend(taken, index);
    }
    names[i] = qualified_relation_name(child);
    index_names[i] = quote_identifier(index);
    index_qualified[i] = quote_qualified_identifier(get_namespace_name(nsp), index);
  }
  op->partitions = {names, (size_t) n};
  op->partition_index_names = {index_names, (size_t) n};
  op->partition_index_qualified = {index_qualified, (size_t) n};
  op->partition_index_holders = {holders, (size_t) n};
  op->index_tail_at = offset_after_relation_name(g, stmt->relation);
}

// REFRESH ... CONCURRENTLY needs a valid unique index on plain columns, without WHERE.
bool has_usable_unique_index(Oid relid) {
  bool found = false;
  Relation pg_index = table_open(IndexRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(pg_index, IndexIndrelidIndexId, true, nullptr, 1, &key);
  HeapTuple tuple;
  while (!found && HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_index index = (Form_pg_index) GETSTRUCT(tuple);
    found = index->indisunique && index->indisvalid && index->indimmediate &&
            heap_attisnull(tuple, Anum_pg_index_indpred, nullptr) &&
            heap_attisnull(tuple, Anum_pg_index_indexprs, nullptr);
  }
  systable_endscan(scan);
  table_close(pg_index, AccessShareLock);
  return found;
}

bool relation_is_populated(Oid relid) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) return false;
  bool populated = ((Form_pg_class) GETSTRUCT(tuple))->relispopulated;
  ReleaseSysCache(tuple);
  return populated;
}

}  // namespace

void gather_create_index(Gathering *g, IndexStmt *stmt) {
  Oid relid = lookup_relation(stmt->relation);
  if (!OidIsValid(relid)) return;  // PostgreSQL reports the missing table itself
  zd::Operation *op = add_operation(g, zd::OpKind::CreateIndex, relid,
                                    stmt->concurrent ? ShareUpdateExclusiveLock : ShareLock,
                                    "CREATE INDEX");
  op->concurrently = stmt->concurrent;
  op->concurrently_at = offset_after_keyword(g->sql, "index");
  op->index_named = stmt->idxname != nullptr;
  op->if_not_exists = stmt->if_not_exists;
  const Oid nsp = get_rel_namespace(relid);
  const char *name = stmt->idxname ? stmt->idxname : choose_index_name(relid, stmt);
  op->index_name = quote_identifier(name);
  op->index_bare_name = name;
  op->index_qualified_name = quote_qualified_identifier(get_namespace_name(nsp), name);
  op->index_name_holder = index_name_holder(name, nsp, relid, InvalidOid);
  op->unique_index = stmt->unique;
  if (op->table.partitioned) {
    op->only_parent = !stmt->relation->inh;
    const bool reuse = op->index_name_holder == zd::IndexNameHolder::InvalidLeftover;
    if (!op->only_parent)
      gather_partitions(g, op, relid, stmt, reuse ? get_relname_relid(name, nsp) : InvalidOid);
  }
}

void gather_drop(Gathering *g, DropStmt *stmt) {
  if (stmt->removeType != OBJECT_INDEX && stmt->removeType != OBJECT_TABLE) {
    gather_drop_other(g, stmt);
    return;
  }
  const bool single = list_length(stmt->objects) == 1 && stmt->behavior != DROP_CASCADE;
  g->recurses = stmt->behavior == DROP_CASCADE;  // CASCADE drops the inheritance children too
  ListCell *lc;
  foreach (lc, stmt->objects) {
    RangeVar *rv = makeRangeVarFromNameList((List *) lfirst(lc));
    Oid relid = RangeVarGetRelid(rv, NoLock, true);
    if (!OidIsValid(relid)) continue;
    if (stmt->removeType == OBJECT_TABLE) {
      if (!is_table(relid)) continue;  // DROP TABLE on a view: PostgreSQL reports it
      zd::Operation *op = add_operation(g, zd::OpKind::DropTable, relid, AccessExclusiveLock,
                                        "DROP TABLE", true);
      op->statement_sql = g->sql;
      gather_dropped_foreign_keys(g, relid, nullptr, "DROP TABLE");
      continue;
    }
    Oid table = IndexGetRelation(relid, true);
    zd::Operation *op =
        add_operation(g, zd::OpKind::DropIndex, table,
                      stmt->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock,
                      "DROP INDEX");
    op->concurrently = stmt->concurrent;
    op->drop_single_without_cascade = single;
    op->index_qualified_name = qualified_relation_name(relid);
    op->index_name = op->index_qualified_name;
  }
}

void gather_reindex(Gathering *g, ReindexStmt *stmt) {
  bool concurrently = false;
  ListCell *lc;
  foreach (lc, stmt->params) {
    DefElem *opt = (DefElem *) lfirst(lc);
    if (strcmp(opt->defname, "concurrently") == 0) concurrently = defGetBoolean(opt);
  }
  Oid table = InvalidOid;
  switch (stmt->kind) {
    case REINDEX_OBJECT_INDEX:
      table = IndexGetRelation(lookup_relation(stmt->relation), true);
      break;
    case REINDEX_OBJECT_TABLE:
      table = lookup_relation(stmt->relation);
      break;
    case REINDEX_OBJECT_SCHEMA:
      if (!OidIsValid(get_namespace_oid(stmt->name, true))) return;  // PG reports it
      break;
    case REINDEX_OBJECT_DATABASE:
      if (stmt->name != nullptr && strcmp(stmt->name, get_database_name(MyDatabaseId)) != 0)
        return;  // PostgreSQL reindexes only the current database, and says so
      break;
    case REINDEX_OBJECT_SYSTEM:
      return;  // system catalogs cannot be reindexed CONCURRENTLY
  }
  if (stmt->relation != nullptr && !OidIsValid(table)) return;
  zd::Operation *op = add_operation(g, zd::OpKind::Reindex, table,
                                    concurrently ? ShareUpdateExclusiveLock : ShareLock, "REINDEX");
  if (stmt->relation == nullptr) {
    // A whole schema or database: every table in it, of unknown total size.
    op->table.exists = true;
    op->table.name = quote_identifier(stmt->name ? stmt->name : get_database_name(MyDatabaseId));
  }
  op->concurrently = concurrently;
  op->concurrently_at = offset_after_reindex_kind(g->sql);
}

void gather_refresh_matview(Gathering *g, RefreshMatViewStmt *stmt) {
  Oid relid = lookup_relation(stmt->relation);
  if (!OidIsValid(relid)) return;
  zd::Operation *op =
      add_operation(g, zd::OpKind::RefreshMatView, relid,
                    stmt->concurrent ? ExclusiveLock : AccessExclusiveLock,
                    "REFRESH MATERIALIZED VIEW");
  op->concurrently = stmt->concurrent;
  // WITH NO DATA only empties the view: instant, nothing for readers to wait on for long.
  op->matview_populated = relation_is_populated(relid) && !stmt->skipData;
  op->matview_has_unique_index = has_usable_unique_index(relid);
  op->concurrently_at = offset_after_keyword(g->sql, "view");
}

}  // namespace zd::pg
