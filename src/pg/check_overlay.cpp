#include "pg/check_overlay_internal.hpp"

#include "pg/gather_internal.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
}

namespace zd::pg {
namespace {

struct SavepointMark {
  const char *name;
  int length;  // of the entries when it was set
};

OverlayEntry *add_entry(ScriptOverlay *o, Effect effect, Oid relid) {
  OverlayEntry *e = (OverlayEntry *) palloc0(sizeof(OverlayEntry));
  e->effect = effect;
  e->relid = relid;
  o->entries = lappend(o->entries, e);
  return e;
}

void add_column_effect(ScriptOverlay *o, Effect effect, Oid relid, const char *column) {
  add_entry(o, effect, relid)->column = pstrdup(column);
}

void add_check(ScriptOverlay *o, Oid relid, const char *name, Node *expr, bool valid) {
  OverlayEntry *e = add_entry(o, Effect::CheckAdded, relid);
  e->constraint = name != nullptr ? pstrdup(name) : nullptr;
  e->expr = expr;
  e->valid = valid;
}

// The namespace CREATE puts an unqualified new relation in (InvalidOid for a temporary one, and
// when there is none: nothing is recorded then).
Oid creation_namespace(const RangeVar *rv, bool *temporary) {
  *temporary = rv->relpersistence == RELPERSISTENCE_TEMP ||
               (rv->schemaname != nullptr && strcmp(rv->schemaname, "pg_temp") == 0);
  if (*temporary) return InvalidOid;
  if (rv->schemaname != nullptr) return get_namespace_oid(rv->schemaname, true);
  List *path = fetch_search_path(false);
  return path != NIL ? linitial_oid(path) : InvalidOid;
}

void record_created(ScriptOverlay *o, const RangeVar *rv, bool if_not_exists) {
  if (rv == nullptr) return;
  // CREATE ... IF NOT EXISTS of a relation that is there creates nothing.
  if (if_not_exists && OidIsValid(lookup_relation(rv))) return;
  bool temporary;
  Oid nsp = creation_namespace(rv, &temporary);
  if (!OidIsValid(nsp) && !temporary) return;
  OverlayEntry *e = add_entry(o, Effect::Created, InvalidOid);
  e->nsp = nsp;
  e->relname = pstrdup(rv->relname);
}

}  // namespace

// The script created the relation of this name (and did not drop it since): it is new, empty,
// unknown to the application, whatever the catalog says of a relation of that name.
bool relation_is_new(const ScriptOverlay *o, Oid relid) {
  const char *relname = get_rel_name(relid);
  if (relname == nullptr) return false;
  const Oid nsp = get_rel_namespace(relid);
  bool created = false;
  ListCell *lc;
  foreach (lc, o->entries) {
    const OverlayEntry *e = (const OverlayEntry *) lfirst(lc);
    if ((e->effect != Effect::Created && e->effect != Effect::Dropped) || !same(e->relname, relname))
      continue;
    // A temporary relation hides the permanent one of its name.
    if (e->nsp == nsp || (e->effect == Effect::Created && !OidIsValid(e->nsp)))
      created = e->effect == Effect::Created;
  }
  return created;
}

bool touches_relation(const ScriptOverlay *o, Oid relid) {
  ListCell *lc;
  foreach (lc, o->entries) {
    const OverlayEntry *e = (const OverlayEntry *) lfirst(lc);
    if (e->relid == relid && e->effect != Effect::LockHeld) return true;
  }
  return false;
}

namespace {

void apply_to_operation(const ScriptOverlay *o, zd::Operation *op) {
  const Oid relid = op->table.oid;
  if (!op->table.exists || relid == 0) return;
  if (relation_is_new(o, relid)) {
    op->table.created_in_transaction = true;  // as for a table that does not exist yet
    return;
  }
  if (touches_relation(o, relid)) apply_column_proofs(o, op);
}

void record_alter_table(ScriptOverlay *o, const AlterTableStmt *stmt) {
  if (stmt->objtype != OBJECT_TABLE) return;
  const Oid relid = lookup_relation(stmt->relation);
  if (!OidIsValid(relid) || relation_is_new(o, relid)) return;  // nothing to follow on new ones
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    const AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
    switch (cmd->subtype) {
      case AT_AddColumn: {
        const ColumnDef *def = castNode(ColumnDef, cmd->def);
        add_column_effect(o, Effect::ColumnAdded, relid, def->colname);
        ((OverlayEntry *) llast(o->entries))->def = def;
        ListCell *cc;
        foreach (cc, def->constraints) {
          const Constraint *c = lfirst_node(Constraint, cc);
          if (c->contype == CONSTR_NOTNULL || c->contype == CONSTR_PRIMARY)
            add_column_effect(o, Effect::NotNullSet, relid, def->colname);
          if (c->contype == CONSTR_CHECK)
            add_check(o, relid, c->conname, c->raw_expr, !c->skip_validation);
        }
        break;
      }
      case AT_DropColumn: add_column_effect(o, Effect::ColumnDropped, relid, cmd->name); break;
      case AT_AlterColumnType:
        add_column_effect(o, Effect::ColumnTypeChanged, relid, cmd->name);
        ((OverlayEntry *) llast(o->entries))->def = castNode(ColumnDef, cmd->def);
        break;
      case AT_SetNotNull: add_column_effect(o, Effect::NotNullSet, relid, cmd->name); break;
      case AT_DropNotNull: add_column_effect(o, Effect::NotNullDropped, relid, cmd->name); break;
      case AT_AddConstraint: {
        const Constraint *c = castNode(Constraint, cmd->def);
        // ADD CHECK is valid once it ran: as written, or as the guard's NOT VALID + VALIDATE.
        if (c->contype == CONSTR_CHECK)
          add_check(o, relid, c->conname, c->raw_expr, !c->skip_validation);
        if (c->contype == CONSTR_PRIMARY) {
          ListCell *kc;
          foreach (kc, c->keys) add_column_effect(o, Effect::NotNullSet, relid, strVal(lfirst(kc)));
        }
        break;
      }
      case AT_ValidateConstraint:
        add_entry(o, Effect::CheckValidated, relid)->constraint = pstrdup(cmd->name);
        break;
      case AT_DropConstraint:
        add_entry(o, Effect::ConstraintDropped, relid)->constraint = pstrdup(cmd->name);
        break;
      default: break;
    }
  }
}

void record_drop(ScriptOverlay *o, const DropStmt *stmt) {
  switch (stmt->removeType) {
    case OBJECT_TABLE:
    case OBJECT_INDEX:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE: break;
    default: return;
  }
  ListCell *lc;
  foreach (lc, stmt->objects) {
    const Oid relid = lookup_relation(makeRangeVarFromNameList((List *) lfirst(lc)));
    if (!OidIsValid(relid)) continue;
    OverlayEntry *e = add_entry(o, Effect::Dropped, InvalidOid);
    e->nsp = get_rel_namespace(relid);
    e->relname = get_rel_name(relid);
  }
}

// The blocking locks the statement takes on tables other sessions use stay until its
// transaction ends (as the hook notes them: held_locks.hpp).
void record_locks(ScriptOverlay *o, const zd::StatementFacts *facts) {
  if (facts == nullptr || facts->tx == zd::TxContext::Autocommit) return;
  for (const zd::Operation &op : facts->ops) {
    if (!zd::blocks_application(op.lock) || !op.table.exists || op.table.oid == 0 ||
        op.table.created_in_transaction || op.table.temporary)
      continue;
    OverlayEntry *e = add_entry(o, Effect::LockHeld, op.table.oid);
    e->lock = op.lock;
    e->table = op.table.name.c_str();
    e->statement = facts->sql.c_str();
  }
}

}  // namespace

ScriptOverlay *overlay_create() { return (ScriptOverlay *) palloc0(sizeof(ScriptOverlay)); }

void overlay_apply(const ScriptOverlay *overlay, const Node *stmt, zd::StatementFacts *facts) {
  zd::Operation *ops = const_cast<zd::Operation *>(facts->ops.items);
  for (size_t i = 0; i < facts->ops.size(); i++) apply_to_operation(overlay, &ops[i]);
  apply_type_changes(overlay, stmt, facts);
  if (facts->tx == zd::TxContext::Autocommit) return;
  // The script's transaction, not the calling session's.
  facts->held = zd::HeldLock{};
  ListCell *lc;
  foreach (lc, overlay->entries) {
    const OverlayEntry *e = (const OverlayEntry *) lfirst(lc);
    if (e->effect != Effect::LockHeld || e->lock <= facts->held.lock) continue;
    facts->held.lock = e->lock;
    facts->held.table = e->table;
    facts->held.statement = e->statement;
  }
}

void overlay_record(ScriptOverlay *overlay, const Node *stmt, const zd::StatementFacts *facts) {
  record_locks(overlay, facts);
  switch (nodeTag(stmt)) {
    case T_CreateStmt:
    case T_CreateForeignTableStmt: {
      const CreateStmt *create = (const CreateStmt *) stmt;
      record_created(overlay, create->relation, create->if_not_exists);
      break;
    }
    case T_CreateTableAsStmt: {
      const CreateTableAsStmt *create = (const CreateTableAsStmt *) stmt;
      record_created(overlay, create->into->rel, create->if_not_exists);
      break;
    }
    case T_ViewStmt:
      if (!((const ViewStmt *) stmt)->replace) record_created(overlay, ((const ViewStmt *) stmt)->view, false);
      break;
    case T_CreateSeqStmt:
      record_created(overlay, ((const CreateSeqStmt *) stmt)->sequence,
                     ((const CreateSeqStmt *) stmt)->if_not_exists);
      break;
    case T_IndexStmt: {
      const IndexStmt *index = (const IndexStmt *) stmt;
      if (index->idxname == nullptr) break;
      // In its table's namespace.
      const char *schema = index->relation->schemaname;
      const Oid table = lookup_relation(index->relation);
      if (schema == nullptr && OidIsValid(table)) schema = get_namespace_name(get_rel_namespace(table));
      RangeVar *rv = makeRangeVar((char *) schema, index->idxname, -1);
      rv->relpersistence = index->relation->relpersistence;
      record_created(overlay, rv, index->if_not_exists);
      break;
    }
    case T_DropStmt: record_drop(overlay, (const DropStmt *) stmt); break;
    case T_AlterTableStmt: record_alter_table(overlay, (const AlterTableStmt *) stmt); break;
    default: break;
  }
}

void overlay_begin(ScriptOverlay *overlay) {
  overlay->transaction_start = list_length(overlay->entries);
  overlay->savepoints = NIL;
}

void overlay_commit(ScriptOverlay *overlay) {
  List *kept = NIL;
  ListCell *lc;
  foreach (lc, overlay->entries)
    if (((const OverlayEntry *) lfirst(lc))->effect != Effect::LockHeld) kept = lappend(kept, lfirst(lc));
  overlay->entries = kept;
  overlay_begin(overlay);
}

void overlay_rollback(ScriptOverlay *overlay) {
  overlay->entries = list_truncate(overlay->entries, overlay->transaction_start);
  overlay_begin(overlay);
}

void overlay_transaction_stmt(ScriptOverlay *overlay, const TransactionStmt *stmt) {
  switch (stmt->kind) {
    case TRANS_STMT_SAVEPOINT: {
      SavepointMark *mark = (SavepointMark *) palloc(sizeof(SavepointMark));
      *mark = SavepointMark{pstrdup(stmt->savepoint_name), list_length(overlay->entries)};
      overlay->savepoints = lappend(overlay->savepoints, mark);
      break;
    }
    case TRANS_STMT_RELEASE:
    case TRANS_STMT_ROLLBACK_TO: {
      // The innermost savepoint of that name; RELEASE also ends the ones set after it.
      for (int i = list_length(overlay->savepoints) - 1; i >= 0; i--) {
        const SavepointMark *mark = (const SavepointMark *) list_nth(overlay->savepoints, i);
        if (strcmp(mark->name, stmt->savepoint_name) != 0) continue;
        if (stmt->kind == TRANS_STMT_ROLLBACK_TO) {
          overlay->entries = list_truncate(overlay->entries, mark->length);
          overlay->savepoints = list_truncate(overlay->savepoints, i + 1);
        } else {
          overlay->savepoints = list_truncate(overlay->savepoints, i);
        }
        break;
      }
      break;
    }
    default: break;
  }
}

}  // namespace zd::pg
