// Gathering for statements no rule looks at but whose locks block the application: only the
// lock cap applies.  Each names the relations PostgreSQL will lock and the mode it takes, as
// the command's own code does (the function named beside each), referenced and parent tables
// included: a lock wait on any of them queues the application behind it.
#include "pg/gather_internal.hpp"

#include "pg/table_facts.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
}

namespace zd::pg {
namespace {

zd::Operation *add_lock(Gathering *g, const RangeVar *rv, LOCKMODE mode, const char *command) {
  const Oid relid = lookup_relation(rv);
  if (!OidIsValid(relid)) return nullptr;
  return add_operation(g, zd::OpKind::OtherLocking, relid, mode, command);
}

// The relation of a trigger, rule or policy named as [schema.]table.object.
const RangeVar *owning_relation(List *name) {
  if (list_length(name) < 2) return nullptr;
  return makeRangeVarFromNameList(list_truncate(list_copy(name), list_length(name) - 1));
}

// A foreign key locks the table it references SHARE ROW EXCLUSIVE (blocks its writes) while
// it adds its triggers there (CloneFkReferenced, addFkRecurseReferenced).
void add_referenced_tables(Gathering *g, List *constraints, const char *command) {
  ListCell *lc;
  foreach (lc, constraints) {
    Node *node = (Node *) lfirst(lc);
    if (!IsA(node, Constraint) || ((Constraint *) node)->contype != CONSTR_FOREIGN) continue;
    zd::Operation *op = add_lock(g, ((Constraint *) node)->pktable, ShareRowExclusiveLock, command);
    if (op != nullptr) op->further_lock = true;
  }
}

// CREATE TABLE: its foreign keys' referenced tables; PARTITION OF locks the parent ACCESS
// EXCLUSIVE (DefineRelation).
void gather_create_table(Gathering *g, CreateStmt *stmt) {
  if (stmt->partbound != nullptr && stmt->inhRelations != NIL) {
    zd::Operation *parent = add_lock(g, linitial_node(RangeVar, stmt->inhRelations),
                                     AccessExclusiveLock, "CREATE TABLE ... PARTITION OF");
    if (parent != nullptr) parent->further_lock = true;
    gather_default_partition_scan(g, lookup_relation(linitial_node(RangeVar, stmt->inhRelations)),
                                  stmt->partbound, "CREATE TABLE ... PARTITION OF");
  }
  ListCell *lc;
  foreach (lc, stmt->tableElts) {
    Node *elt = (Node *) lfirst(lc);
    if (IsA(elt, ColumnDef))
      add_referenced_tables(g, ((ColumnDef *) elt)->constraints, "CREATE TABLE ... REFERENCES");
  }
  add_referenced_tables(g, stmt->constraints, "CREATE TABLE ... REFERENCES");
}

}  // namespace

void gather_foreign_key_references(Gathering *g, Node *def) {
  if (def == nullptr) return;
  if (IsA(def, Constraint)) {
    add_referenced_tables(g, list_make1(def), "ALTER TABLE ... REFERENCES");
  } else if (IsA(def, ColumnDef)) {
    add_referenced_tables(g, ((ColumnDef *) def)->constraints, "ALTER TABLE ... REFERENCES");
  }
}

namespace {

// The command of a DROP that locks a relation ACCESS EXCLUSIVE, and whether its objects are
// named as [schema.]table.object (triggers, rules, policies: get_object_address_relobject locks
// their table) or are relations themselves (RemoveRelations); nullptr for other objects.
const char *drop_locking_command(ObjectType type, bool *names_owning_relation) {
  *names_owning_relation = true;
  switch (type) {
    case OBJECT_TRIGGER: return "DROP TRIGGER";
    case OBJECT_RULE: return "DROP RULE";
    case OBJECT_POLICY: return "DROP POLICY";
    default: break;
  }
  *names_owning_relation = false;
  switch (type) {
    case OBJECT_VIEW: return "DROP VIEW";
    case OBJECT_MATVIEW: return "DROP MATERIALIZED VIEW";
    case OBJECT_SEQUENCE: return "DROP SEQUENCE";
    case OBJECT_FOREIGN_TABLE: return "DROP FOREIGN TABLE";
    default: return nullptr;
  }
}

}  // namespace

void gather_drop_other(Gathering *g, DropStmt *stmt) {
  bool owning;
  const char *command = drop_locking_command(stmt->removeType, &owning);
  if (command == nullptr) {
    gather_drop_cascade(g, stmt);  // a schema, type, function ...: what it removes with it
    return;
  }
  ListCell *lc;
  foreach (lc, stmt->objects) {
    List *name = (List *) lfirst(lc);
    add_lock(g, owning ? owning_relation(name) : makeRangeVarFromNameList(name),
             AccessExclusiveLock, command);
  }
}

void gather_rename_other(Gathering *g, RenameStmt *stmt) {
  switch (stmt->renameType) {
    case OBJECT_TRIGGER:        // renametrig
    case OBJECT_RULE:           // RenameRewriteRule
    case OBJECT_POLICY:         // rename_policy
    case OBJECT_TABCONSTRAINT:  // RenameConstraint
    case OBJECT_COLUMN:         // renameatt (of a view, a sequence, a foreign table)
    case OBJECT_TABLE:          // RenameRelation of a view or sequence through ALTER TABLE
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
      add_lock(g, stmt->relation, AccessExclusiveLock, "ALTER ... RENAME");
      break;
    default:
      break;  // an index is renamed under SHARE UPDATE EXCLUSIVE; other objects lock no table
  }
}

void gather_other_locking(Gathering *g, Node *stmt) {
  ListCell *lc;
  switch (nodeTag(stmt)) {
    case T_LockStmt: {
      LockStmt *lock = (LockStmt *) stmt;
      foreach (lc, lock->relations)
        add_lock(g, lfirst_node(RangeVar, lc), lock->mode, "LOCK TABLE");
      break;
    }
    case T_CreateTrigStmt:
      add_lock(g, ((CreateTrigStmt *) stmt)->relation, ShareRowExclusiveLock, "CREATE TRIGGER");
      break;
    case T_TruncateStmt:
      foreach (lc, ((TruncateStmt *) stmt)->relations)
        add_lock(g, lfirst_node(RangeVar, lc), AccessExclusiveLock, "TRUNCATE");
      break;
    case T_CreateStmt:
      gather_create_table(g, (CreateStmt *) stmt);
      break;
    case T_RuleStmt:  // DefineQueryRewrite
      add_lock(g, ((RuleStmt *) stmt)->relation, AccessExclusiveLock, "CREATE RULE");
      break;
    case T_CreatePolicyStmt:  // CreatePolicy
      add_lock(g, ((CreatePolicyStmt *) stmt)->table, AccessExclusiveLock, "CREATE POLICY");
      break;
    case T_AlterPolicyStmt:  // AlterPolicy
      add_lock(g, ((AlterPolicyStmt *) stmt)->table, AccessExclusiveLock, "ALTER POLICY");
      break;
    case T_AlterObjectSchemaStmt: {  // AlterTableNamespace
      AlterObjectSchemaStmt *alter = (AlterObjectSchemaStmt *) stmt;
      if (alter->relation != nullptr)
        add_lock(g, alter->relation, AccessExclusiveLock, "ALTER ... SET SCHEMA");
      break;
    }
    case T_AlterSeqStmt:  // AlterSequence: blocks nextval()
      add_lock(g, ((AlterSeqStmt *) stmt)->sequence, ShareRowExclusiveLock, "ALTER SEQUENCE");
      break;
    case T_ViewStmt: {  // DefineVirtualRelation replacing a view
      ViewStmt *view = (ViewStmt *) stmt;
      if (view->replace) add_lock(g, view->view, AccessExclusiveLock, "CREATE OR REPLACE VIEW");
      break;
    }
    default:
      break;
  }
}

}  // namespace zd::pg
