// Gathering for ALTER TABLE: one operation per subcommand, each with the statement's lock
// (AlterTableGetLockLevel, PostgreSQL's own answer): constraints, partitions, tablespaces here,
// the column subcommands in gather_columns.cpp.  Whether a change rewrites or scans is decided
// the way tablecmds.c decides it, from the catalog, never from type names.
#include "pg/alter_subcommands.hpp"
#include "pg/gather_internal.hpp"

#include "pg/sql_tokens.hpp"
#include "pg/subtransaction.hpp"
#include "pg/table_facts.hpp"
#include "pg/trusted_code.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/heap.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/dependency.h"
#include "utils/array.h"
#include "utils/relcache.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/tablecmds.h"
#include "commands/tablespace.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_node.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "commands/defrem.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
}

namespace zd::pg {
namespace {

const char *join_names(List *names, const char *separator, bool quote) {
  StringInfoData buf;
  initStringInfo(&buf);
  ListCell *lc;
  foreach (lc, names) {
    if (buf.len > 0) appendStringInfoString(&buf, separator);
    appendStringInfoString(&buf, quote ? quote_identifier(strVal(lfirst(lc))) : strVal(lfirst(lc)));
  }
  return buf.data;
}

void gather_primary_key_using_index(zd::Operation *op, Oid relid, Oid nsp, Constraint *c) {
  const Oid index = get_relname_relid(c->indexname, nsp);
  if (!OidIsValid(index)) return;
  HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
  if (!HeapTupleIsValid(tuple)) return;
  Form_pg_index form = (Form_pg_index) GETSTRUCT(tuple);
  const int n = form->indnkeyatts;
  zd::Text *nullable = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
  int count = 0;
  for (int i = 0; i < n; i++) {
    const AttrNumber attnum = form->indkey.values[i];
    if (attnum <= 0) continue;  // an expression: PostgreSQL refuses it as a key
    if (!compat::column_not_null_validated(relid, attnum) && !not_null_implied_by_checks(relid, attnum))
      nullable[count++] = quote_identifier(get_attname(relid, attnum, false));
  }
  ReleaseSysCache(tuple);
  if (count == 0) return;
  op->kind = zd::OpKind::AddPrimaryKey;
  op->command = "ALTER TABLE ... ADD PRIMARY KEY USING INDEX";
  op->primary_key_using_index = true;
  op->nullable_key_columns = {nullable, (size_t) count};
  const char *name = c->conname != nullptr ? c->conname : c->indexname;
  op->constraint_name = quote_identifier(name);
  op->not_null_helper = quote_identifier(makeObjectName(name, nullptr, "not_null"));
}

void gather_add_constraint(Gathering *g, zd::Operation *op, Oid relid, Constraint *c) {
  const char *relname = get_rel_name(relid);
  Oid nsp = get_rel_namespace(relid);
  op->not_valid = c->skip_validation;
  const char *name = c->conname;
  switch (c->contype) {
    case CONSTR_CHECK:
      op->kind = zd::OpKind::AddCheck;
      op->command = "ALTER TABLE ... ADD CHECK";
      if (!name) name = ChooseConstraintName(relname, nullptr, "check", nsp, NIL);
      break;
    case CONSTR_FOREIGN:
      op->kind = zd::OpKind::AddForeignKey;
      op->command = "ALTER TABLE ... ADD FOREIGN KEY";
      if (!name)
        name = ChooseConstraintName(relname, join_names(c->fk_attrs, "_", false), "fkey", nsp,
                                    NIL);
      // (On a partitioned table NOT VALID exists since 18: the core decides by the version.)
      break;
    case CONSTR_UNIQUE:
    case CONSTR_PRIMARY: {
      const bool pk = c->contype == CONSTR_PRIMARY;
      if (c->indexname != nullptr) {
        // ... USING INDEX: the safe form, but a PRIMARY KEY makes its columns NOT NULL, with
        // the scan of SET NOT NULL for each one no valid CHECK proves already.
        if (pk) gather_primary_key_using_index(op, relid, nsp, c);
        return;
      }
      op->kind = pk ? zd::OpKind::AddPrimaryKey : zd::OpKind::AddUnique;
      op->command = pk ? "ALTER TABLE ... ADD PRIMARY KEY" : "ALTER TABLE ... ADD UNIQUE";
      if (!name)
        name = ChooseRelationName(relname, pk ? nullptr : join_names(c->keys, "_", false),
                                  pk ? "pkey" : "key", nsp, true);
      int n = list_length(c->keys), nullable = 0;
      zd::Text *keys = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
      zd::Text *nullable_keys = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
      for (int i = 0; i < n; i++) {
        const char *column = strVal(list_nth(c->keys, i));
        keys[i] = quote_identifier(column);
        AttrNumber attnum = get_attnum(relid, column);
        if (!compat::column_not_null_validated(relid, attnum)) nullable_keys[nullable++] = keys[i];
      }
      op->key_columns = {keys, (size_t) n};
      op->nullable_key_columns = {nullable_keys, (size_t) nullable};
      op->constraint_rewritable = c->including == NIL && c->options == NIL &&
                                  c->indexspace == nullptr && !c->nulls_not_distinct &&
                                  !c->deferrable && !c->initdeferred &&
                                  !op->table.partitioned;
      break;
    }
    case CONSTR_EXCLUSION:
      op->kind = zd::OpKind::AddExclude;
      op->command = "ALTER TABLE ... ADD EXCLUDE";
      break;
    default:
      return;  // other constraint kinds: the lock cap only
  }
  if (name != nullptr) {
    op->constraint_name = quote_identifier(name);
    // A PRIMARY KEY's nullable columns: the helper CHECK of their SET NOT NULL steps.
    op->not_null_helper = quote_identifier(makeObjectName(name, nullptr, "not_null"));
    // The unique index built first gets the constraint's name, unless a relation has it (the
    // statement replaces a key of that name: DROP CONSTRAINT t_pkey, ADD CONSTRAINT t_pkey
    // ...); ADD CONSTRAINT ... USING INDEX renames it to the constraint's name.
    const char *index = OidIsValid(get_relname_relid(name, nsp))
                            ? ChooseRelationName(name, nullptr, "new", nsp, false)
                            : name;
    op->index_name = quote_identifier(index);
    op->index_qualified_name = quote_qualified_identifier(get_namespace_name(nsp), index);
  }
  // The constraint's text: from its location to the end of its subcommand, so that the safe
  // form changes it in place and keeps the statement's other changes.
  op->constraint_at = statement_offset(g, c->location);
  if (c->conname == nullptr) op->constraint_name_at = op->constraint_at;
  if (op->constraint_at >= 0) op->not_valid_at = offset_of_list_item_end(g->sql, op->constraint_at);
}

struct AttachGathering {
  zd::Operation *op;
  Oid parent;
  Oid partition;  // the table scanned: the new partition, or the parent's default partition
  PartitionBoundSpec *raw_bound;
  bool default_partition;  // `partition` is the default one: it must hold no row of the bound
};

void compute_partition_check(void *arg);

// The bound's values are literals (or MINVALUE / MAXVALUE): turning them into the key's type
// then calls only its input function.  An expression would be evaluated.
bool bound_is_constants(const PartitionBoundSpec *bound) {
  for (List *values : {bound->listdatums, bound->lowerdatums, bound->upperdatums}) {
    ListCell *lc;
    foreach (lc, values) {
      Node *value = (Node *) lfirst(lc);
      if (IsA(value, TypeCast)) value = ((TypeCast *) value)->arg;
      if (!IsA(value, A_Const) && !IsA(value, ColumnRef)) return false;
    }
  }
  return true;
}

// Turning the bound into the key's values and the partition constraint into its folded form
// calls the key's types' input functions, the key expressions' functions and, for a domain
// key, its CHECK constraints: all must be trusted.  (Proving the constraint from the
// partition's CHECK constraints folds those: checked where the proof is made.)
bool partition_key_trusted(Relation parent) {
  PartitionKey key = RelationGetPartitionKey(parent);
  for (int i = 0; i < key->partnatts; i++)
    if (get_typtype(key->parttypid[i]) == TYPTYPE_DOMAIN) return false;
  return runs_only_trusted_code((Node *) key->partexprs) &&
         runs_only_trusted_code((Node *) RelationGetPartitionQual(parent));
}

// ATTACH PARTITION: the partition constraint ATExecAttachPartition would check, and whether a
// valid CHECK of the partition already implies it (then there is no scan).  Skipped when the
// caller does not own both tables (PostgreSQL refuses the statement before it looks at
// either), when the parent or the partition cannot be locked without waiting, when computing it
// would evaluate code that is not trusted (trusted_code.hpp), and when computing it raises an
// error (PostgreSQL then reports its own, when the statement runs).
void gather_attach_partition(zd::Operation *op, Oid parent, Oid partition,
                             PartitionBoundSpec *raw_bound, bool default_partition = false) {
  if (!OidIsValid(partition) || raw_bound == nullptr) return;
  // PostgreSQL itself rejects an ATTACH to a table that is not partitioned; a foreign table
  // is never scanned, and a partitioned one is checked leaf by leaf.
  const char kind = get_rel_relkind(partition);
  if (get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE ||
      (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE))
    return;
  // A scan unless proven otherwise below: giving up on the proof must not pass for one.
  op->partition_check_implied = false;
  // (The default partition is scanned on behalf of the parent's owner, whoever owns it.)
  if (!caller_owns_relation(parent) || (!default_partition && !caller_owns_relation(partition)) ||
      !bound_is_constants(raw_bound))
    return;
  AttachGathering a{op, parent, partition, raw_bound, default_partition};
  // An error computing it (a bound out of range, say) is PostgreSQL's to report, as it will.
  if (!gather_or_give_up(compute_partition_check, &a)) op->partition_check_implied = true;
}

// As QueuePartitionConstraintValidation decides: no scan where the relation's valid CHECK
// constraints imply the constraint; a partitioned table's partitions are each proven (or
// scanned) in turn, the constraint mapped to their columns.  The proof folds their CHECK
// constraints: only when those are trusted.  A partition that cannot be locked without
// waiting, or not proven, counts as scanned.
bool implied_in_tree(Relation rel, List *qual) {
  if (checks_run_only_trusted_code(RelationGetRelid(rel)) &&
      PartConstraintImpliedByRelConstraint(rel, qual))
    return true;
  if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE) return true;  // never scanned
  if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE) return false;
  PartitionDesc parts = RelationGetPartitionDesc(rel, true);
  for (int i = 0; i < parts->nparts; i++) {
    const Oid child = parts->oids[i];
    if (!ConditionalLockRelationOid(child, AccessShareLock)) return false;
    Relation child_rel = relation_open(child, NoLock);
    const bool implied =
        implied_in_tree(child_rel, map_partition_varattnos(qual, 1, child_rel, rel));
    relation_close(child_rel, NoLock);
    UnlockRelationOid(child, AccessShareLock);
    if (!implied) return false;
  }
  return true;
}

void compute_partition_check(void *arg) {
  AttachGathering *a = (AttachGathering *) arg;
  zd::Operation *op = a->op;
  Oid parent = a->parent, partition = a->partition;
  PartitionBoundSpec *raw_bound = a->raw_bound;
  if (!ConditionalLockRelationOid(parent, AccessShareLock)) return;
  if (!ConditionalLockRelationOid(partition, AccessShareLock)) {
    UnlockRelationOid(parent, AccessShareLock);
    return;
  }
  Relation parent_rel = relation_open(parent, NoLock);
  Relation part_rel = relation_open(partition, NoLock);
  if (!partition_key_trusted(parent_rel)) {
    relation_close(part_rel, NoLock);
    relation_close(parent_rel, NoLock);
    UnlockRelationOid(partition, AccessShareLock);
    UnlockRelationOid(parent, AccessShareLock);
    return;
  }
  PartitionBoundSpec *bound = transformPartitionBound(
      make_parsestate(nullptr), parent_rel, (PartitionBoundSpec *) copyObjectImpl(raw_bound));
  List *qual = list_concat(get_qual_from_partbound(parent_rel, bound),
                           RelationGetPartitionQual(parent_rel));
  // The default partition must hold no row of the new bound: NOT (bound), as
  // check_default_partition_contents proves or scans for.
  if (a->default_partition && qual != NIL) qual = get_proposed_default_constraint(qual);
  if (qual == NIL) op->partition_check_implied = true;  // nothing to check: no scan
  if (qual != NIL) {
    qual = (List *) eval_const_expressions(nullptr, (Node *) qual);
    qual = list_make1(make_ands_explicit(qual));
    qual = map_partition_varattnos(qual, 1, part_rel, parent_rel);
    op->partition_check_implied = implied_in_tree(part_rel, qual);
    op->partition_check_sql =
        deparse_expression((Node *) linitial(qual),
                           deparse_context_for(RelationGetRelationName(part_rel), partition),
                           false, false);
    op->constraint_name = quote_identifier(
        ChooseConstraintName(RelationGetRelationName(part_rel), nullptr, "partition_check",
                             RelationGetNamespace(part_rel), NIL));
  }
  relation_close(part_rel, NoLock);
  relation_close(parent_rel, NoLock);
  UnlockRelationOid(partition, AccessShareLock);
  UnlockRelationOid(parent, AccessShareLock);
}

// As ATExecSetTableSpace decides: moving to the tablespace it is in already (0: the
// database's) is a no-op.
bool already_in_tablespace(Oid relid, const char *tablespace) {
  const Oid target = get_tablespace_oid(tablespace, true);
  const Oid current = get_rel_tablespace(relid);
  return OidIsValid(target) &&
         (target == current || (target == MyDatabaseTableSpace && current == InvalidOid));
}

}  // namespace

void gather_default_partition_scan(Gathering *g, Oid parent, PartitionBoundSpec *bound,
                                   const char *command) {
  if (!OidIsValid(parent) || bound == nullptr || bound->is_default ||
      get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE)
    return;
  const Oid default_partition = get_default_partition_oid(parent);
  if (!OidIsValid(default_partition)) return;
  zd::Operation *op =
      add_operation(g, zd::OpKind::AttachPartition, default_partition, AccessExclusiveLock, command);
  op->partition_name = op->table.name;
  op->scans_default_partition = true;
  op->through_other_object = true;
  gather_attach_partition(op, parent, default_partition, bound, true);
}

void gather_alter_table(Gathering *g, AlterTableStmt *stmt) {
  g->recurses = stmt->relation->inh;
  Oid relid = lookup_relation(stmt->relation);
  if (!OidIsValid(relid)) return;
  const LOCKMODE lock = AlterTableGetLockLevel(stmt->cmds);
  if (stmt->objtype != OBJECT_TABLE) {
    // ALTER INDEX / VIEW / MATERIALIZED VIEW / SEQUENCE / FOREIGN TABLE: the lock cap only,
    // but SET TABLESPACE of an index or a materialized view copies it under ACCESS EXCLUSIVE
    // (an index locked so blocks every query that plans on its table).
    const bool moves = list_length(stmt->cmds) == 1 &&
                       linitial_node(AlterTableCmd, stmt->cmds)->subtype == AT_SetTableSpace &&
                       (stmt->objtype == OBJECT_INDEX || stmt->objtype == OBJECT_MATVIEW);
    if (!moves) {
      add_operation(g, zd::OpKind::OtherLocking, relid, lock, "ALTER");
      return;
    }
    zd::Operation *op = add_operation(
        g, zd::OpKind::SetTablespace, relid, lock,
        stmt->objtype == OBJECT_INDEX ? "ALTER INDEX ... SET TABLESPACE"
                                      : "ALTER MATERIALIZED VIEW ... SET TABLESPACE");
    op->tablespace_unchanged =
        already_in_tablespace(relid, linitial_node(AlterTableCmd, stmt->cmds)->name);
    return;
  }
  if (!is_table(relid) || !caller_owns_gathered_relation(relid)) {
    // ALTER TABLE also reaches views, indexes and sequences: no table rule applies to them,
    // only the lock cap.  Nor to a table the caller does not own: PostgreSQL refuses the
    // statement before it looks at the table, and so must gather (it would fold the table's
    // expressions and read its rows).
    add_operation(g, zd::OpKind::OtherLocking, relid, lock, "ALTER TABLE");
    return;
  }
  if (list_length(stmt->cmds) > 1) g->split_statements = split_alter_table(g->sql);
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
    const AlterSubcommand *sub = alter_subcommand(cmd->subtype);
    if (sub == nullptr) {  // a subcommand the table does not know: the lock cap
      add_operation(g, zd::OpKind::OtherLocking, relid, lock, "ALTER TABLE");
      continue;
    }
    if (sub->gather != nullptr) {
      sub->gather(g, relid, lock, cmd, *sub);
      continue;
    }
    add_operation(g, sub->kind, relid, lock, sub->command);
  }
}

namespace {

// The subcommands with facts of their own.

void gather_at_add_column(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                          const AlterSubcommand &sub) {
  gather_foreign_key_references(g, cmd->def);  // ... REFERENCES: the referenced table
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command, true);
  gather_add_column(g, op, relid, castNode(ColumnDef, cmd->def));
}

void gather_at_alter_type(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                          const AlterSubcommand &sub) {
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command);
  gather_alter_type(op, relid, cmd->name, castNode(ColumnDef, cmd->def));
}

void gather_at_set_not_null(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                            const AlterSubcommand &sub) {
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command);
  gather_set_not_null(op, relid, cmd->name);
}

void gather_at_add_constraint(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                              const AlterSubcommand &sub) {
  gather_foreign_key_references(g, cmd->def);  // FOREIGN KEY: the referenced table
  // Its kind (CHECK, FOREIGN KEY, UNIQUE, ...) comes from the constraint.
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command);
  gather_add_constraint(g, op, relid, castNode(Constraint, cmd->def));
}

void gather_at_drop_column(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                           const AlterSubcommand &sub) {
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command, true);
  op->column = quote_identifier(cmd->name);
}

void gather_at_attach_partition(Gathering *g, Oid relid, LOCKMODE, AlterTableCmd *cmd,
                                const AlterSubcommand &sub) {
  PartitionCmd *pc = castNode(PartitionCmd, cmd->def);
  Oid partition = lookup_relation(pc->name);
  // The partition is the table scanned and locked ACCESS EXCLUSIVE.
  zd::Operation *op = add_operation(g, sub.kind, partition, AccessExclusiveLock, sub.command);
  op->partition_name = op->table.name;
  gather_attach_partition(op, relid, partition, pc->bound);
  // With a default partition, that one is scanned too (under ACCESS EXCLUSIVE).
  gather_default_partition_scan(g, relid, pc->bound, sub.command);
}

void gather_at_detach_partition(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                                const AlterSubcommand &sub) {
  PartitionCmd *pc = castNode(PartitionCmd, cmd->def);
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command);
  op->concurrently = pc->concurrent;
  op->partition_name = qualified_relation_name(lookup_relation(pc->name));
  if (op->partition_name.empty()) op->kind = zd::OpKind::OtherLocking;  // PostgreSQL reports it
  // DETACH ... CONCURRENTLY is impossible while the table has a default partition.
  if (!OidIsValid(get_default_partition_oid(relid)))
    op->concurrently_at = offset_after_last_token(g->sql);
}

void gather_at_drop_constraint(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                               const AlterSubcommand &sub) {
  add_operation(g, sub.kind, relid, lock, sub.command);
  gather_dropped_foreign_keys(g, relid, cmd->name, "ALTER TABLE ... DROP CONSTRAINT");
}

// SET EXPRESSION (17+: used by the table below from 17 on): a stored generated column is
// computed anew in every row (a rewrite); a virtual one (18+) only changes its catalog entry,
// the lock cap's.
[[maybe_unused]] void gather_at_set_expression(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                              const AlterSubcommand &sub) {
  const AttrNumber attnum = get_attnum(relid, cmd->name);
  char generated = '\0';
  if (attnum != InvalidAttrNumber) {
    HeapTuple tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    if (HeapTupleIsValid(tuple)) {
      generated = ((Form_pg_attribute) GETSTRUCT(tuple))->attgenerated;
      ReleaseSysCache(tuple);
    }
  }
  // Not a stored generated column (or none of that name): PostgreSQL's own error, or a
  // catalog change.
  if (generated != ATTRIBUTE_GENERATED_STORED) {
    add_operation(g, zd::OpKind::OtherLocking, relid, lock, sub.command);
    return;
  }
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command);
  op->column = quote_identifier(cmd->name);
  Oid type, collation;
  int32 typmod;
  get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
  op->column_type = format_type_with_typemod(type, typmod);
}

void gather_at_set_tablespace(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                              const AlterSubcommand &sub) {
  zd::Operation *op = add_operation(g, sub.kind, relid, lock, sub.command);
  op->tablespace_unchanged = already_in_tablespace(relid, cmd->name);
}

}  // namespace

#define GATHERED(Subtype, spelling, kind, command, gather) \
  {Subtype, #Subtype, spelling, zd::OpKind::kind, command, gather}
#define JUDGED(Subtype, spelling, kind, command) \
  {Subtype, #Subtype, spelling, zd::OpKind::kind, command, nullptr}
#define LOCK_CAP(Subtype, spelling) \
  {Subtype, #Subtype, spelling, zd::OpKind::OtherLocking, "ALTER TABLE", nullptr}
#define INTERNAL(Subtype) {Subtype, #Subtype, nullptr, zd::OpKind::OtherLocking, "ALTER TABLE", nullptr}

const AlterSubcommand kAlterSubcommands[] = {
    GATHERED(AT_AddColumn, "ADD COLUMN", AddColumn, "ALTER TABLE ... ADD COLUMN",
             gather_at_add_column),
#if PG_VERSION_NUM < 160000  // 16: recursion is a flag of the subcommand
    INTERNAL(AT_AddColumnRecurse),
#endif
    INTERNAL(AT_AddColumnToView),
    LOCK_CAP(AT_ColumnDefault, "ALTER COLUMN ... SET / DROP DEFAULT"),
    INTERNAL(AT_CookedColumnDefault),
    LOCK_CAP(AT_DropNotNull, "ALTER COLUMN ... DROP NOT NULL"),
    GATHERED(AT_SetNotNull, "ALTER COLUMN ... SET NOT NULL", SetNotNull,
             "ALTER TABLE ... SET NOT NULL", gather_at_set_not_null),
#if PG_VERSION_NUM >= 170000
    // A stored generated column's new expression rewrites the table under ACCESS EXCLUSIVE
    // (ATExecSetExpression; a virtual one, 18, only its catalog entry).
    GATHERED(AT_SetExpression, "ALTER COLUMN ... SET EXPRESSION", SetExpression,
             "ALTER TABLE ... SET EXPRESSION", gather_at_set_expression),
#endif
    LOCK_CAP(AT_DropExpression, "ALTER COLUMN ... DROP EXPRESSION"),
#if PG_VERSION_NUM < 180000  // 18: NOT NULL is a constraint of its own
    INTERNAL(AT_CheckNotNull),
#endif
    LOCK_CAP(AT_SetStatistics, "ALTER COLUMN ... SET STATISTICS"),
    LOCK_CAP(AT_SetOptions, "ALTER COLUMN ... SET (...)"),
    LOCK_CAP(AT_ResetOptions, "ALTER COLUMN ... RESET (...)"),
    LOCK_CAP(AT_SetStorage, "ALTER COLUMN ... SET STORAGE"),
    LOCK_CAP(AT_SetCompression, "ALTER COLUMN ... SET COMPRESSION"),
    GATHERED(AT_DropColumn, "DROP COLUMN", DropColumn, "ALTER TABLE ... DROP COLUMN",
             gather_at_drop_column),
#if PG_VERSION_NUM < 160000  // 16: recursion is a flag of the subcommand
    INTERNAL(AT_DropColumnRecurse),
#endif
    INTERNAL(AT_AddIndex),
    INTERNAL(AT_ReAddIndex),
    GATHERED(AT_AddConstraint,
             "ADD CONSTRAINT (judged as AddCheck, AddForeignKey, AddUnique, AddPrimaryKey or "
             "AddExclude, by the constraint)",
             OtherLocking, "ALTER TABLE ... ADD CONSTRAINT",
             gather_at_add_constraint),
#if PG_VERSION_NUM < 160000  // 16: recursion is a flag of the subcommand
    INTERNAL(AT_AddConstraintRecurse),
#endif
    INTERNAL(AT_ReAddConstraint),
    INTERNAL(AT_ReAddDomainConstraint),
    LOCK_CAP(AT_AlterConstraint, "ALTER CONSTRAINT ... [NOT] DEFERRABLE"),
    JUDGED(AT_ValidateConstraint, "VALIDATE CONSTRAINT", ValidateConstraint,
           "ALTER TABLE ... VALIDATE CONSTRAINT"),
#if PG_VERSION_NUM < 160000  // 16: recursion is a flag of the subcommand
    INTERNAL(AT_ValidateConstraintRecurse),
#endif
    INTERNAL(AT_AddIndexConstraint),
    GATHERED(AT_DropConstraint, "DROP CONSTRAINT", OtherLocking, "ALTER TABLE",
             gather_at_drop_constraint),
#if PG_VERSION_NUM < 160000  // 16: recursion is a flag of the subcommand
    INTERNAL(AT_DropConstraintRecurse),
#endif
    INTERNAL(AT_ReAddComment),
    GATHERED(AT_AlterColumnType, "ALTER COLUMN ... TYPE", AlterColumnType,
             "ALTER TABLE ... ALTER COLUMN ... TYPE", gather_at_alter_type),
    LOCK_CAP(AT_AlterColumnGenericOptions, "ALTER COLUMN ... OPTIONS (...)"),
    LOCK_CAP(AT_ChangeOwner, "OWNER TO"),
    LOCK_CAP(AT_ClusterOn, "CLUSTER ON"),
    LOCK_CAP(AT_DropCluster, "SET WITHOUT CLUSTER"),
    JUDGED(AT_SetLogged, "SET LOGGED", SetLogged, "ALTER TABLE ... SET LOGGED"),
    JUDGED(AT_SetUnLogged, "SET UNLOGGED", SetUnlogged, "ALTER TABLE ... SET UNLOGGED"),
    LOCK_CAP(AT_DropOids, "SET WITHOUT OIDS (a no-op)"),
    JUDGED(AT_SetAccessMethod, "SET ACCESS METHOD", SetAccessMethod,
           "ALTER TABLE ... SET ACCESS METHOD"),
    GATHERED(AT_SetTableSpace, "SET TABLESPACE", SetTablespace, "ALTER TABLE ... SET TABLESPACE",
             gather_at_set_tablespace),
    LOCK_CAP(AT_SetRelOptions, "SET (...)"),
    LOCK_CAP(AT_ResetRelOptions, "RESET (...)"),
    INTERNAL(AT_ReplaceRelOptions),
    LOCK_CAP(AT_EnableTrig, "ENABLE TRIGGER"),
    LOCK_CAP(AT_EnableAlwaysTrig, "ENABLE ALWAYS TRIGGER"),
    LOCK_CAP(AT_EnableReplicaTrig, "ENABLE REPLICA TRIGGER"),
    LOCK_CAP(AT_DisableTrig, "DISABLE TRIGGER"),
    LOCK_CAP(AT_EnableTrigAll, "ENABLE TRIGGER ALL"),
    LOCK_CAP(AT_DisableTrigAll, "DISABLE TRIGGER ALL"),
    LOCK_CAP(AT_EnableTrigUser, "ENABLE TRIGGER USER"),
    LOCK_CAP(AT_DisableTrigUser, "DISABLE TRIGGER USER"),
    LOCK_CAP(AT_EnableRule, "ENABLE RULE"),
    LOCK_CAP(AT_EnableAlwaysRule, "ENABLE ALWAYS RULE"),
    LOCK_CAP(AT_EnableReplicaRule, "ENABLE REPLICA RULE"),
    LOCK_CAP(AT_DisableRule, "DISABLE RULE"),
    LOCK_CAP(AT_AddInherit, "INHERIT (catalog checks only; the parent SHARE UPDATE EXCLUSIVE)"),
    LOCK_CAP(AT_DropInherit, "NO INHERIT"),
    LOCK_CAP(AT_AddOf, "OF type (catalog checks only)"),
    LOCK_CAP(AT_DropOf, "NOT OF"),
    LOCK_CAP(AT_ReplicaIdentity, "REPLICA IDENTITY"),
    LOCK_CAP(AT_EnableRowSecurity, "ENABLE ROW LEVEL SECURITY"),
    LOCK_CAP(AT_DisableRowSecurity, "DISABLE ROW LEVEL SECURITY"),
    LOCK_CAP(AT_ForceRowSecurity, "FORCE ROW LEVEL SECURITY"),
    LOCK_CAP(AT_NoForceRowSecurity, "NO FORCE ROW LEVEL SECURITY"),
    LOCK_CAP(AT_GenericOptions, "OPTIONS (...) of a foreign table"),
    GATHERED(AT_AttachPartition, "ATTACH PARTITION", AttachPartition,
             "ALTER TABLE ... ATTACH PARTITION", gather_at_attach_partition),
    GATHERED(AT_DetachPartition, "DETACH PARTITION", DetachPartition,
             "ALTER TABLE ... DETACH PARTITION", gather_at_detach_partition),
    LOCK_CAP(AT_DetachPartitionFinalize, "DETACH PARTITION ... FINALIZE"),
    LOCK_CAP(AT_AddIdentity, "ALTER COLUMN ... ADD GENERATED ... AS IDENTITY (no rewrite)"),
    LOCK_CAP(AT_SetIdentity, "ALTER COLUMN ... SET GENERATED / SET sequence option"),
    LOCK_CAP(AT_DropIdentity, "ALTER COLUMN ... DROP IDENTITY"),
    INTERNAL(AT_ReAddStatistics),
};

#undef GATHERED
#undef JUDGED
#undef LOCK_CAP
#undef INTERNAL

const size_t kAlterSubcommandCount = sizeof(kAlterSubcommands) / sizeof(kAlterSubcommands[0]);

const AlterSubcommand *alter_subcommand(AlterTableType subtype) {
  // In AlterTableType's order: found at its own index (else searched).
  if ((size_t) subtype < kAlterSubcommandCount && kAlterSubcommands[subtype].subtype == subtype)
    return &kAlterSubcommands[subtype];
  for (size_t i = 0; i < kAlterSubcommandCount; i++)
    if (kAlterSubcommands[i].subtype == subtype) return &kAlterSubcommands[i];
  return nullptr;
}

}  // namespace zd::pg
