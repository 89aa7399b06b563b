// Which lock the journal may take for a statement, to time its wait: the one PostgreSQL's own
// code takes first, on the relation the statement names, in the same mode, before any other
// lock.  Taken by the guard a moment earlier (guard.cpp's run_measured), PostgreSQL's request
// then finds it held: nothing changes but that the wait is timed.  Only where that first
// lock is known exactly (a weaker one would be upgraded, a stronger one would block more);
// never a partition (PostgreSQL locks its parent first when it drops one).
#include "pg/journal.hpp"

extern "C" {
#include "commands/tablecmds.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"
}

namespace zd::pg {

LOCKMODE journal_first_lock(const Node *stmt, Oid relid) {
  switch (nodeTag(stmt)) {
    case T_IndexStmt:  // DefineIndex's RangeVarGetRelidExtended
      return ((const IndexStmt *) stmt)->concurrent ? ShareUpdateExclusiveLock : ShareLock;
    case T_AlterTableStmt: {  // AlterTableLookupRelation, at its subcommands' level
      const AlterTableStmt *a = (const AlterTableStmt *) stmt;
      return a->objtype == OBJECT_TABLE ? AlterTableGetLockLevel(a->cmds) : NoLock;
    }
    case T_RenameStmt: {  // RenameRelation, renameatt, RenameConstraint on a table
      const RenameStmt *r = (const RenameStmt *) stmt;
      const bool on_table =
          r->renameType == OBJECT_TABLE ||
          ((r->renameType == OBJECT_COLUMN || r->renameType == OBJECT_TABCONSTRAINT) &&
           r->relationType == OBJECT_TABLE);
      return on_table && r->relation != nullptr ? AccessExclusiveLock : NoLock;
    }
    case T_DropStmt: {  // RemoveRelations (one plain table: no index's table locked first)
      const DropStmt *d = (const DropStmt *) stmt;
      return d->removeType == OBJECT_TABLE && list_length(d->objects) == 1 && !d->concurrent &&
                     !get_rel_relispartition(relid)
                 ? AccessExclusiveLock
                 : NoLock;
    }
    case T_CreateTrigStmt:  // CreateTrigger's table_openrv
      return ShareRowExclusiveLock;
    case T_CreatePolicyStmt:  // CreatePolicy, AlterPolicy: RangeVarGetRelidExtended
    case T_AlterPolicyStmt:
    case T_RuleStmt:  // transformRuleStmt's table_openrv
      return AccessExclusiveLock;
    case T_AlterSeqStmt:  // AlterSequence's RangeVarGetRelidExtended
      return ShareRowExclusiveLock;
    case T_AlterObjectSchemaStmt: {  // AlterTableNamespace
      const AlterObjectSchemaStmt *a = (const AlterObjectSchemaStmt *) stmt;
      return a->objectType == OBJECT_TABLE && a->relation != nullptr ? AccessExclusiveLock
                                                                      : NoLock;
    }
    default:
      return NoLock;
  }
}

}  // namespace zd::pg
