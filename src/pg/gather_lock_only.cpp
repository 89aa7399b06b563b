// Gathering for statements no rule looks at but whose locks block the application: only the
// lock cap applies.  Each names the relations PostgreSQL will lock and the mode it takes, as
// the command's own code does (the function named beside each), referenced and parent tables
// included: a lock wait on any of them queues the application behind it.
#include "pg/gather_internal.hpp"

#include "pg/check_constraints.hpp"
#include "pg/dependencies.hpp"

#include "pg/table_facts.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_shdepend.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
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

}  // namespace

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
  add_referenced_tables(g, stmt->tableElts, "CREATE TABLE ... REFERENCES");  // table constraints
}

namespace {

struct DroppedForeignKeys {
  Gathering *g;
  Oid relid;
  const char *constraint;  // nullptr: all of them
  const char *command;
};

void add_if_dropped_foreign_key(HeapTuple tuple, TupleDesc, void *arg) {
  const DroppedForeignKeys *d = (const DroppedForeignKeys *) arg;
  Form_pg_constraint c = (Form_pg_constraint) GETSTRUCT(tuple);
  if (c->contype != CONSTRAINT_FOREIGN || c->confrelid == d->relid ||
      (d->constraint != nullptr && strcmp(NameStr(c->conname), d->constraint) != 0))
    return;
  zd::Operation *op = add_operation(d->g, zd::OpKind::OtherLocking, c->confrelid,
                                    AccessExclusiveLock, d->command);
  op->further_lock = true;
}

}  // namespace

void gather_dropped_foreign_keys(Gathering *g, Oid relid, const char *constraint,
                                 const char *command) {
  DroppedForeignKeys d{g, relid, constraint, command};
  for_each_constraint_of(relid, add_if_dropped_foreign_key, &d);
}

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

void gather_lock_table(Gathering *g, LockStmt *stmt) {  // LockTableCommand
  ListCell *lc;
  foreach (lc, stmt->relations) add_lock(g, lfirst_node(RangeVar, lc), stmt->mode, "LOCK TABLE");
}

void gather_create_trigger(Gathering *g, CreateTrigStmt *stmt) {  // CreateTrigger
  add_lock(g, stmt->relation, ShareRowExclusiveLock, "CREATE TRIGGER");
}

void gather_truncate(Gathering *g, TruncateStmt *stmt) {  // ExecuteTruncate
  ListCell *lc;
  foreach (lc, stmt->relations)
    add_lock(g, lfirst_node(RangeVar, lc), AccessExclusiveLock, "TRUNCATE");
}

void gather_create_rule(Gathering *g, RuleStmt *stmt) {  // DefineQueryRewrite
  add_lock(g, stmt->relation, AccessExclusiveLock, "CREATE RULE");
}

void gather_create_policy(Gathering *g, CreatePolicyStmt *stmt) {  // CreatePolicy
  add_lock(g, stmt->table, AccessExclusiveLock, "CREATE POLICY");
}

void gather_alter_policy(Gathering *g, AlterPolicyStmt *stmt) {  // AlterPolicy
  add_lock(g, stmt->table, AccessExclusiveLock, "ALTER POLICY");
}

void gather_set_schema(Gathering *g, AlterObjectSchemaStmt *stmt) {  // AlterTableNamespace
  if (stmt->relation != nullptr)
    add_lock(g, stmt->relation, AccessExclusiveLock, "ALTER ... SET SCHEMA");
}

void gather_alter_sequence(Gathering *g, AlterSeqStmt *stmt) {  // AlterSequence: blocks nextval()
  add_lock(g, stmt->sequence, ShareRowExclusiveLock, "ALTER SEQUENCE");
}

void gather_replace_view(Gathering *g, ViewStmt *stmt) {  // DefineVirtualRelation
  if (stmt->replace) add_lock(g, stmt->view, AccessExclusiveLock, "CREATE OR REPLACE VIEW");
}

// ALTER INDEX / MATERIALIZED VIEW / TRIGGER / FUNCTION ... DEPENDS ON EXTENSION
// (ExecAlterObjectDependsStmt): the relation, or the trigger's table, ACCESS EXCLUSIVE.
void gather_alter_object_depends(Gathering *g, AlterObjectDependsStmt *stmt) {
  if (stmt->relation != nullptr)
    add_lock(g, stmt->relation, AccessExclusiveLock, "ALTER ... DEPENDS ON EXTENSION");
}

// REASSIGN OWNED (shdepReassignOwned): every relation of this database the roles own changes
// owner under ACCESS EXCLUSIVE (ATExecChangeOwner).
void gather_reassign_owned(Gathering *g, ReassignOwnedStmt *stmt) {
  ListCell *lc, *o;
  foreach (lc, stmt->roles) {
    const Oid role = get_rolespec_oid(lfirst_node(RoleSpec, lc), true);
    if (!OidIsValid(role)) continue;
    foreach (o, owned_by(role)) {
      const ObjectAddress *object = (const ObjectAddress *) lfirst(o);
      if (object->classId == RelationRelationId)
        add_operation(g, zd::OpKind::OtherLocking, object->objectId, AccessExclusiveLock,
                      "REASSIGN OWNED");
    }
  }
}

// ALTER TABLE / INDEX / MATERIALIZED VIEW ALL IN TABLESPACE (AlterTableMoveAll): every such
// relation of the database in the tablespace (of the roles named), outside the system schemas,
// is locked ACCESS EXCLUSIVE and copied: SET TABLESPACE on each.
void gather_move_all(Gathering *g, AlterTableMoveAllStmt *stmt) {
  Oid from = get_tablespace_oid(stmt->orig_tablespacename, true);
  Oid to = get_tablespace_oid(stmt->new_tablespacename, true);
  if (!OidIsValid(from) || !OidIsValid(to)) return;  // PostgreSQL reports it
  if (from == MyDatabaseTableSpace) from = InvalidOid;
  if (to == MyDatabaseTableSpace) to = InvalidOid;
  if (from == to) return;  // a no-op
  List *roles = NIL;
  ListCell *lc;
  foreach (lc, stmt->roles) roles = lappend_oid(roles, get_rolespec_oid(lfirst_node(RoleSpec, lc), false));
  Relation pg_class = table_open(RelationRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_class_reltablespace, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(from));
  SysScanDesc scan = systable_beginscan(pg_class, InvalidOid, false, nullptr, 1, &key);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_class rel = (Form_pg_class) GETSTRUCT(tuple);
    if (IsCatalogNamespace(rel->relnamespace) || rel->relisshared ||
        isAnyTempNamespace(rel->relnamespace) || IsToastNamespace(rel->relnamespace))
      continue;
    const char k = rel->relkind;
    const bool wanted =
        (stmt->objtype == OBJECT_TABLE && (k == RELKIND_RELATION || k == RELKIND_PARTITIONED_TABLE)) ||
        (stmt->objtype == OBJECT_INDEX && (k == RELKIND_INDEX || k == RELKIND_PARTITIONED_INDEX)) ||
        (stmt->objtype == OBJECT_MATVIEW && k == RELKIND_MATVIEW);
    if (!wanted || (roles != NIL && !list_member_oid(roles, rel->relowner))) continue;
    add_operation(g, zd::OpKind::SetTablespace, rel->oid, AccessExclusiveLock,
                  "ALTER ... ALL IN TABLESPACE ... SET TABLESPACE");
  }
  systable_endscan(scan);
  table_close(pg_class, AccessShareLock);
}

}  // namespace zd::pg
