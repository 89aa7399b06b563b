// Shared by the gather_*.cpp files: the statement being gathered and how to add an operation.
#pragma once

#include "pg/gather.hpp"

extern "C" {
#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"
}

namespace zd::pg {

struct Gathering {
  const char *sql;  // the statement's own text
  int location;     // its offset in the query string (parse-tree locations are relative to it)
  List *ops;        // of GatheredOp *
  // The first operations are made in one array that becomes the facts' own (most statements
  // have one or two): an Operation is larger than a portal's memory context hands out from its
  // blocks, so each separate one is a malloc, and so would be a copy.
  zd::Operation *first_ops = nullptr;
  int n_first_ops = 0;
  // The statement acts on the tables that inherit from its table too (ALTER TABLE without
  // ONLY, RENAME COLUMN, DROP TABLE ... CASCADE): their rows count in its table's size and
  // emptiness.  (CREATE INDEX, VACUUM, CLUSTER, REINDEX do not recurse into inheritance.)
  bool recurses = false;
  // ALTER TABLE of several subcommands: one statement each (sql_tokens.hpp).
  List *split_statements = NIL;
};

// An operation and what its table's live state is looked up with once the statement is
// gathered (its kind, which decides whether its size is needed, may change until then).
struct GatheredOp {
  zd::Operation *op;
  Oid relid;
  bool check_empty;
  bool recurses;  // Gathering::recurses when it was added
};

// Adds an operation on relation `relid` (InvalidOid: it does not exist).
zd::Operation *add_operation(Gathering *g, zd::OpKind kind, Oid relid, LOCKMODE lock,
                             const char *command, bool check_empty = false);

zd::Lock lock_from_lockmode(LOCKMODE mode);

// The relation a RangeVar names, looked up without locking; InvalidOid when absent.
Oid lookup_relation(const RangeVar *rv);

// Offset in the statement's text of a parse-tree location (which is relative to the query).
int statement_offset(const Gathering *g, int parse_location);

// Per statement family.
void gather_create_index(Gathering *g, IndexStmt *stmt);
void gather_drop(Gathering *g, DropStmt *stmt);
void gather_reindex(Gathering *g, ReindexStmt *stmt);
void gather_refresh_matview(Gathering *g, RefreshMatViewStmt *stmt);
void gather_alter_table(Gathering *g, AlterTableStmt *stmt);
void gather_rename(Gathering *g, RenameStmt *stmt);
void gather_vacuum(Gathering *g, VacuumStmt *stmt);
void gather_cluster(Gathering *g, compat::ClusterStatement *stmt);
// ALTER TABLE's column subcommands (gather_columns.cpp).
void gather_add_column(Gathering *g, zd::Operation *op, Oid relid, ColumnDef *def);
void gather_alter_type(zd::Operation *op, Oid relid, const char *column, ColumnDef *def);
// The same for a column whose type is known otherwise (zd_check: one its script added or changed
// before): relid InvalidOid leaves out what the catalog says of its constraints and indexes.
void gather_type_change(zd::Operation *op, Oid relid, AttrNumber attnum, const char *column,
                        Oid old_type, int32 old_typmod, Oid collation, ColumnDef *def);
void gather_set_not_null(zd::Operation *op, Oid relid, const char *column);
// A valid CHECK constraint of the table proves `attnum IS NOT NULL` (SET NOT NULL then skips
// its scan).  `ignored`: names of constraints not to count (zd_check: dropped by the script).
bool not_null_implied_by_checks(Oid relid, AttrNumber attnum, List *ignored = NIL);

// Statements only the lock cap applies to (gather_lock_only.cpp), and the parts of others that
// lock further relations.
void gather_lock_table(Gathering *g, LockStmt *stmt);
void gather_create_trigger(Gathering *g, CreateTrigStmt *stmt);
void gather_truncate(Gathering *g, TruncateStmt *stmt);
void gather_create_table(Gathering *g, CreateStmt *stmt);
void gather_create_rule(Gathering *g, RuleStmt *stmt);
void gather_create_policy(Gathering *g, CreatePolicyStmt *stmt);
void gather_alter_policy(Gathering *g, AlterPolicyStmt *stmt);
void gather_set_schema(Gathering *g, AlterObjectSchemaStmt *stmt);
void gather_alter_sequence(Gathering *g, AlterSeqStmt *stmt);
void gather_replace_view(Gathering *g, ViewStmt *stmt);
void gather_alter_object_depends(Gathering *g, AlterObjectDependsStmt *stmt);
void gather_reassign_owned(Gathering *g, ReassignOwnedStmt *stmt);
void gather_move_all(Gathering *g, AlterTableMoveAllStmt *stmt);
void gather_drop_other(Gathering *g, DropStmt *stmt);
// The tables and columns a DROP ... CASCADE of a schema, type, domain, function or extension,
// or a DROP OWNED BY, removes with it (gather_cascade.cpp).
void gather_drop_cascade(Gathering *g, DropStmt *stmt);
void gather_drop_owned(Gathering *g, DropOwnedStmt *stmt);
// The tables whose rows an ALTER DOMAIN checks (the columns of the domain and of domains over
// it), each locked SHARE.
void gather_alter_domain(Gathering *g, AlterDomainStmt *stmt);
void gather_rename_other(Gathering *g, RenameStmt *stmt);
// A new partition of `parent` (ATTACH, CREATE TABLE ... PARTITION OF) makes PostgreSQL scan the
// parent's default partition, if it has one, for rows of the new bound, unless its constraints
// prove there are none: an AttachPartition operation on the default partition.
void gather_default_partition_scan(Gathering *g, Oid parent, PartitionBoundSpec *bound,
                                   const char *command);

// The tables referenced by the foreign keys of `relid` (the one named `constraint`, or all when
// nullptr) that a DROP removes: dropping a foreign key drops its triggers on the referenced
// table, under ACCESS EXCLUSIVE there (ATExecDropConstraint, RemoveTriggerById).
void gather_dropped_foreign_keys(Gathering *g, Oid relid, const char *constraint,
                                 const char *command);

// The tables a foreign key in an ALTER TABLE subcommand (ADD CONSTRAINT, ADD COLUMN ...
// REFERENCES) references.
void gather_foreign_key_references(Gathering *g, Node *def);

}  // namespace zd::pg
