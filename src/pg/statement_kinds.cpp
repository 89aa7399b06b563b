// What the guard does with each kind of utility statement of PostgreSQL 15, and why: the locks
// PostgreSQL's own code for it takes on existing relations (the function named), as read in
// its source.  test/t/011_statement_kinds.pl checks that every statement node tag of the
// server's headers has an entry; sql/statement_kinds.sql prints the table.
#include "pg/statement_kinds.hpp"

namespace zd::pg {
namespace {

template <typename T, void (*F)(Gathering *, T *)>
void as(Gathering *g, Node *stmt) {
  F(g, (T *) stmt);
}

bool has_foreign_key(List *constraints) {
  ListCell *lc;
  foreach (lc, constraints)
    if (IsA(lfirst(lc), Constraint) && lfirst_node(Constraint, lc)->contype == CONSTR_FOREIGN)
      return true;
  return false;
}

// CREATE TABLE locks an existing relation only as a partition (its parent) or through a foreign
// key (the table it references): the common CREATE TABLE is not gathered.
bool create_table_locks_others(const Node *node) {
  const CreateStmt *stmt = (const CreateStmt *) node;  // (CREATE FOREIGN TABLE starts with one)
  // (A table constraint is in tableElts as the parser leaves it, a column's in its ColumnDef.)
  if (stmt->partbound != nullptr || has_foreign_key(stmt->constraints) ||
      has_foreign_key(stmt->tableElts))
    return true;
  ListCell *lc;
  foreach (lc, stmt->tableElts)
    if (IsA(lfirst(lc), ColumnDef) && has_foreign_key(((ColumnDef *) lfirst(lc))->constraints))
      return true;
  return false;
}

void gather_create_foreign_table(Gathering *g, Node *stmt) {
  gather_create_table(g, &((CreateForeignTableStmt *) stmt)->base);
}

bool replaces_view(const Node *stmt) { return ((const ViewStmt *) stmt)->replace; }

bool never(const Node *) { return false; }
bool cluster_one_table(const Node *stmt) {
  return ZD_CLUSTER_RELATION((const compat::ClusterStatement *) stmt) != nullptr;
}
bool reindex_one_relation(const Node *stmt) { return ((const ReindexStmt *) stmt)->relation; }

}  // namespace

// The second argument: whether the statement changes the schema (schema_watch.hpp): Yes, No,
// or Secret (yes, and its string constants may hold a password: the journal redacts them).
// (GATHERED's last three: gather, worth_gathering, in_subtransaction; variadic for the commas
// of as<...>.)
#define GATHERED(Tag, schema, statement, locks, ...)                                        \
  {T_##Tag, #Tag, statement, StatementHandling::Gathered, locks, __VA_ARGS__,             \
   SchemaChange::schema}
#define NO_BLOCKING_LOCK(Tag, schema, statement, locks)                                      \
  {T_##Tag, #Tag, statement, StatementHandling::NoBlockingLock, locks, nullptr, nullptr, \
   nullptr, SchemaChange::schema}
#define RUNS_STATEMENTS(Tag, schema, statement, locks)                                       \
  {T_##Tag, #Tag, statement, StatementHandling::RunsStatements, locks, nullptr, nullptr, \
   nullptr, SchemaChange::schema}
#define NOT_UTILITY(Tag, what)                                                             \
  {T_##Tag, #Tag, what, StatementHandling::NotUtility, "", nullptr, nullptr, nullptr,     \
   SchemaChange::No}

const StatementKind kStatementKinds[] = {
    // Judged by the rules, lock capped.
    GATHERED(AlterTableStmt, Yes, "ALTER TABLE / INDEX / VIEW / MATERIALIZED VIEW / SEQUENCE / TYPE",
             "AlterTableGetLockLevel of its subcommands (up to ACCESS EXCLUSIVE) on the relation, "
             "its partitions and children; SHARE ROW EXCLUSIVE on a referenced table "
             "(addFkRecurseReferenced); see zd_alter_table_subcommands()",
             as<AlterTableStmt, gather_alter_table>, nullptr, nullptr),
    GATHERED(AlterDomainStmt, Yes, "ALTER DOMAIN",
             "SHARE on every table with a column of the domain (validateDomainConstraint)",
             as<AlterDomainStmt, gather_alter_domain>, nullptr, nullptr),
#if PG_VERSION_NUM >= 190000
    // 19: CLUSTER is REPACK's statement: CLUSTER judged by the cluster rule, REPACK by the
    // repack rule; REPACK (CONCURRENTLY) by none (the lock cap only).
    GATHERED(RepackStmt, No, "REPACK / CLUSTER",
             "ACCESS EXCLUSIVE (cluster_rel); REPACK (CONCURRENTLY): SHARE UPDATE EXCLUSIVE, "
             "then ACCESS EXCLUSIVE to swap the copy in",
             as<RepackStmt, gather_cluster>, nullptr, cluster_one_table),
#else
    GATHERED(ClusterStmt, No, "CLUSTER", "ACCESS EXCLUSIVE (cluster_rel)",
             as<ClusterStmt, gather_cluster>, nullptr, cluster_one_table),
#endif
    GATHERED(CreateStmt, Yes, "CREATE TABLE",
             "PARTITION OF: ACCESS EXCLUSIVE on the parent (DefineRelation); REFERENCES: SHARE "
             "ROW EXCLUSIVE on the referenced table (addFkRecurseReferenced)",
             as<CreateStmt, gather_create_table>, create_table_locks_others, nullptr),
    GATHERED(CreateForeignTableStmt, Yes, "CREATE FOREIGN TABLE",
             "PARTITION OF: ACCESS EXCLUSIVE on the parent (DefineRelation)",
             gather_create_foreign_table, create_table_locks_others, nullptr),
    GATHERED(DropStmt, Yes, "DROP TABLE / INDEX / VIEW / SEQUENCE / TRIGGER / RULE / POLICY / ...",
             "ACCESS EXCLUSIVE on each relation dropped or the table of a trigger, rule or "
             "policy (RemoveRelations, RemoveObjects); CASCADE: on what it removes with them",
             as<DropStmt, gather_drop>, nullptr, nullptr),
    GATHERED(TruncateStmt, No, "TRUNCATE", "ACCESS EXCLUSIVE (ExecuteTruncate)",
             as<TruncateStmt, gather_truncate>, nullptr, nullptr),
    GATHERED(IndexStmt, Yes, "CREATE INDEX",
             "SHARE on the table (DefineIndex); CONCURRENTLY: SHARE UPDATE EXCLUSIVE",
             as<IndexStmt, gather_create_index>, nullptr, nullptr),
    GATHERED(RenameStmt, Yes, "ALTER ... RENAME",
             "ACCESS EXCLUSIVE on a relation, or the table of a column, trigger, rule, policy or "
             "constraint renamed (RenameRelation, renameatt, renametrig, RenameConstraint); an "
             "index: SHARE UPDATE EXCLUSIVE",
             as<RenameStmt, gather_rename>, nullptr, nullptr),
    GATHERED(RuleStmt, Yes, "CREATE RULE", "ACCESS EXCLUSIVE (DefineQueryRewrite)",
             as<RuleStmt, gather_create_rule>, nullptr, nullptr),
    GATHERED(ViewStmt, Yes, "CREATE OR REPLACE VIEW",
             "replacing: ACCESS EXCLUSIVE on the view (DefineVirtualRelation)",
             as<ViewStmt, gather_replace_view>, replaces_view, nullptr),
    GATHERED(VacuumStmt, No, "VACUUM / ANALYZE",
             "FULL: ACCESS EXCLUSIVE; otherwise SHARE UPDATE EXCLUSIVE (vacuum_rel, analyze_rel)",
             as<VacuumStmt, gather_vacuum>, nullptr, never),
    GATHERED(AlterSeqStmt, Yes, "ALTER SEQUENCE",
             "SHARE ROW EXCLUSIVE (AlterSequence): blocks nextval()",
             as<AlterSeqStmt, gather_alter_sequence>, nullptr, nullptr),
    GATHERED(CreateTrigStmt, Yes, "CREATE TRIGGER", "SHARE ROW EXCLUSIVE (CreateTrigger)",
             as<CreateTrigStmt, gather_create_trigger>, nullptr, nullptr),
    GATHERED(LockStmt, No, "LOCK TABLE", "the mode named (LockTableCommand)",
             as<LockStmt, gather_lock_table>, nullptr, nullptr),
    GATHERED(ReindexStmt, No, "REINDEX",
             "SHARE on the table, ACCESS EXCLUSIVE on the index (reindex_index); CONCURRENTLY: "
             "SHARE UPDATE EXCLUSIVE",
             as<ReindexStmt, gather_reindex>, nullptr, reindex_one_relation),
    GATHERED(AlterObjectDependsStmt, Yes, "ALTER ... DEPENDS ON EXTENSION",
             "ACCESS EXCLUSIVE on the index, view or the trigger's table "
             "(ExecAlterObjectDependsStmt)",
             as<AlterObjectDependsStmt, gather_alter_object_depends>, nullptr, nullptr),
    GATHERED(AlterObjectSchemaStmt, Yes, "ALTER ... SET SCHEMA",
             "a relation: ACCESS EXCLUSIVE (AlterTableNamespace); other objects: none",
             as<AlterObjectSchemaStmt, gather_set_schema>, nullptr, nullptr),
    GATHERED(DropOwnedStmt, Yes, "DROP OWNED",
             "ACCESS EXCLUSIVE on every relation the roles own and on what CASCADE removes "
             "(shdepDropOwned)",
             as<DropOwnedStmt, gather_drop_owned>, nullptr, nullptr),
    GATHERED(ReassignOwnedStmt, Yes, "REASSIGN OWNED",
             "ACCESS EXCLUSIVE on every relation the roles own (shdepReassignOwned, "
             "ATExecChangeOwner)",
             as<ReassignOwnedStmt, gather_reassign_owned>, nullptr, nullptr),
    GATHERED(AlterTableMoveAllStmt, Yes, "ALTER TABLE / INDEX / MATERIALIZED VIEW ALL IN TABLESPACE",
             "ACCESS EXCLUSIVE on every relation moved, then a copy of each (AlterTableMoveAll)",
             as<AlterTableMoveAllStmt, gather_move_all>, nullptr, nullptr),
    GATHERED(RefreshMatViewStmt, No, "REFRESH MATERIALIZED VIEW",
             "ACCESS EXCLUSIVE; CONCURRENTLY: EXCLUSIVE (ExecRefreshMatView)",
             as<RefreshMatViewStmt, gather_refresh_matview>, nullptr, nullptr),
    GATHERED(CreatePolicyStmt, Yes, "CREATE POLICY", "ACCESS EXCLUSIVE on the table (CreatePolicy)",
             as<CreatePolicyStmt, gather_create_policy>, nullptr, nullptr),
    GATHERED(AlterPolicyStmt, Yes, "ALTER POLICY", "ACCESS EXCLUSIVE on the table (AlterPolicy)",
             as<AlterPolicyStmt, gather_alter_policy>, nullptr, nullptr),

    // No lock that blocks the application on an existing relation: they pass untouched.
    NO_BLOCKING_LOCK(GrantStmt, Yes, "GRANT / REVOKE",
                     "none on the relation: its pg_class row only (ExecGrant_Relation)"),
    NO_BLOCKING_LOCK(GrantRoleStmt, Yes, "GRANT / REVOKE role", "none"),
    NO_BLOCKING_LOCK(AlterDefaultPrivilegesStmt, Yes, "ALTER DEFAULT PRIVILEGES", "none"),
    NO_BLOCKING_LOCK(ClosePortalStmt, No, "CLOSE", "none"),
    NO_BLOCKING_LOCK(CopyStmt, No, "COPY",
                     "FROM: ROW EXCLUSIVE, TO: ACCESS SHARE (DoCopy): as the application's own "
                     "writes and reads"),
    NO_BLOCKING_LOCK(DefineStmt, Yes, "CREATE AGGREGATE / OPERATOR / TYPE / COLLATION / ...", "none"),
    NO_BLOCKING_LOCK(CommentStmt, Yes, "COMMENT ON",
                     "SHARE UPDATE EXCLUSIVE on a relation (CommentObject)"),
    NO_BLOCKING_LOCK(FetchStmt, No, "FETCH / MOVE", "none"),
    NO_BLOCKING_LOCK(CreateFunctionStmt, Yes, "CREATE FUNCTION / PROCEDURE", "none"),
    NO_BLOCKING_LOCK(AlterFunctionStmt, Yes, "ALTER FUNCTION / PROCEDURE", "none"),
    NO_BLOCKING_LOCK(NotifyStmt, No, "NOTIFY", "none"),
    NO_BLOCKING_LOCK(ListenStmt, No, "LISTEN", "none"),
    NO_BLOCKING_LOCK(UnlistenStmt, No, "UNLISTEN", "none"),
    NO_BLOCKING_LOCK(TransactionStmt, No, "BEGIN / COMMIT / ROLLBACK / SAVEPOINT / ...", "none"),
    NO_BLOCKING_LOCK(LoadStmt, No, "LOAD", "none"),
    NO_BLOCKING_LOCK(CreateDomainStmt, Yes, "CREATE DOMAIN", "none"),
    NO_BLOCKING_LOCK(CreatedbStmt, No, "CREATE DATABASE", "none on relations"),
    NO_BLOCKING_LOCK(DropdbStmt, No, "DROP DATABASE", "none on relations of this database"),
    NO_BLOCKING_LOCK(CreateTableAsStmt, Yes, "CREATE TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW",
                     "ACCESS SHARE on what it reads; the relation it creates is new"),
    NO_BLOCKING_LOCK(CreateSeqStmt, Yes, "CREATE SEQUENCE",
                     "OWNED BY: ACCESS SHARE on the table (process_owned_by)"),
    NO_BLOCKING_LOCK(VariableSetStmt, No, "SET / RESET", "none"),
    NO_BLOCKING_LOCK(VariableShowStmt, No, "SHOW", "none"),
    NO_BLOCKING_LOCK(DiscardStmt, No, "DISCARD", "none"),
    NO_BLOCKING_LOCK(CreatePLangStmt, Yes, "CREATE LANGUAGE", "none"),
    NO_BLOCKING_LOCK(CreateRoleStmt, Secret, "CREATE ROLE", "none"),
    NO_BLOCKING_LOCK(AlterRoleStmt, Secret, "ALTER ROLE", "none"),
    NO_BLOCKING_LOCK(DropRoleStmt, Yes, "DROP ROLE", "none (refused while the role owns objects)"),
    NO_BLOCKING_LOCK(ConstraintsSetStmt, No, "SET CONSTRAINTS", "none"),
    NO_BLOCKING_LOCK(CheckPointStmt, No, "CHECKPOINT", "none"),
    NO_BLOCKING_LOCK(AlterDatabaseStmt, No, "ALTER DATABASE", "none on relations"),
    NO_BLOCKING_LOCK(AlterDatabaseRefreshCollStmt, No, "ALTER DATABASE ... REFRESH COLLATION VERSION",
                     "none"),
    NO_BLOCKING_LOCK(AlterDatabaseSetStmt, No, "ALTER DATABASE ... SET", "none"),
    NO_BLOCKING_LOCK(AlterRoleSetStmt, No, "ALTER ROLE ... SET", "none"),
    NO_BLOCKING_LOCK(CreateConversionStmt, Yes, "CREATE CONVERSION", "none"),
    NO_BLOCKING_LOCK(CreateCastStmt, Yes, "CREATE CAST", "none"),
    NO_BLOCKING_LOCK(CreateOpClassStmt, Yes, "CREATE OPERATOR CLASS", "none"),
    NO_BLOCKING_LOCK(CreateOpFamilyStmt, Yes, "CREATE OPERATOR FAMILY", "none"),
    NO_BLOCKING_LOCK(AlterOpFamilyStmt, Yes, "ALTER OPERATOR FAMILY", "none"),
    NO_BLOCKING_LOCK(PrepareStmt, No, "PREPARE",
                     "none (the query prepared runs through the executor, as DML)"),
    NO_BLOCKING_LOCK(DeallocateStmt, No, "DEALLOCATE", "none"),
    NO_BLOCKING_LOCK(CreateTableSpaceStmt, No, "CREATE TABLESPACE", "none"),
    NO_BLOCKING_LOCK(DropTableSpaceStmt, No, "DROP TABLESPACE", "none (refused unless empty)"),
    NO_BLOCKING_LOCK(AlterOwnerStmt, Yes, "ALTER ... OWNER TO (not a relation)",
                     "none on relations (a relation's owner is ALTER TABLE ... OWNER TO)"),
    NO_BLOCKING_LOCK(AlterOperatorStmt, Yes, "ALTER OPERATOR", "none"),
    NO_BLOCKING_LOCK(AlterTypeStmt, Yes, "ALTER TYPE ... SET", "none"),
    NO_BLOCKING_LOCK(CompositeTypeStmt, Yes, "CREATE TYPE ... AS (composite)", "none: a new type"),
    NO_BLOCKING_LOCK(CreateEnumStmt, Yes, "CREATE TYPE ... AS ENUM", "none"),
    NO_BLOCKING_LOCK(CreateRangeStmt, Yes, "CREATE TYPE ... AS RANGE", "none"),
    NO_BLOCKING_LOCK(AlterEnumStmt, Yes, "ALTER TYPE ... ADD / RENAME VALUE",
                     "none on relations (pg_enum only)"),
    NO_BLOCKING_LOCK(AlterTSDictionaryStmt, Yes, "ALTER TEXT SEARCH DICTIONARY", "none"),
    NO_BLOCKING_LOCK(AlterTSConfigurationStmt, Yes, "ALTER TEXT SEARCH CONFIGURATION", "none"),
    NO_BLOCKING_LOCK(CreateFdwStmt, Secret, "CREATE FOREIGN DATA WRAPPER", "none"),
    NO_BLOCKING_LOCK(AlterFdwStmt, Secret, "ALTER FOREIGN DATA WRAPPER", "none"),
    NO_BLOCKING_LOCK(CreateForeignServerStmt, Secret, "CREATE SERVER", "none"),
    NO_BLOCKING_LOCK(AlterForeignServerStmt, Secret, "ALTER SERVER", "none"),
    NO_BLOCKING_LOCK(CreateUserMappingStmt, Secret, "CREATE USER MAPPING", "none"),
    NO_BLOCKING_LOCK(AlterUserMappingStmt, Secret, "ALTER USER MAPPING", "none"),
    NO_BLOCKING_LOCK(DropUserMappingStmt, Yes, "DROP USER MAPPING", "none"),
    NO_BLOCKING_LOCK(AlterTableSpaceOptionsStmt, No, "ALTER TABLESPACE ... SET", "none"),
    NO_BLOCKING_LOCK(SecLabelStmt, Yes, "SECURITY LABEL",
                     "SHARE UPDATE EXCLUSIVE on a relation (ExecSecLabelStmt)"),
    NO_BLOCKING_LOCK(ImportForeignSchemaStmt, Yes, "IMPORT FOREIGN SCHEMA",
                     "none: the foreign tables it creates are new"),
    NO_BLOCKING_LOCK(AlterExtensionContentsStmt, Yes, "ALTER EXTENSION ... ADD / DROP",
                     "SHARE UPDATE EXCLUSIVE on a relation (ExecAlterExtensionContentsStmt)"),
    NO_BLOCKING_LOCK(CreateEventTrigStmt, Yes, "CREATE EVENT TRIGGER", "none"),
    NO_BLOCKING_LOCK(AlterEventTrigStmt, Yes, "ALTER EVENT TRIGGER", "none"),
    NO_BLOCKING_LOCK(AlterSystemStmt, No, "ALTER SYSTEM", "none"),
    NO_BLOCKING_LOCK(CreateTransformStmt, Yes, "CREATE TRANSFORM", "none"),
    NO_BLOCKING_LOCK(CreateAmStmt, Yes, "CREATE ACCESS METHOD", "none"),
    NO_BLOCKING_LOCK(CreatePublicationStmt, Yes, "CREATE PUBLICATION",
                     "SHARE UPDATE EXCLUSIVE on its tables (OpenTableList)"),
    NO_BLOCKING_LOCK(AlterPublicationStmt, Yes, "ALTER PUBLICATION",
                     "SHARE UPDATE EXCLUSIVE on its tables (OpenTableList)"),
    NO_BLOCKING_LOCK(CreateSubscriptionStmt, Secret, "CREATE SUBSCRIPTION", "none on relations"),
    NO_BLOCKING_LOCK(AlterSubscriptionStmt, Secret, "ALTER SUBSCRIPTION", "none on relations"),
    NO_BLOCKING_LOCK(DropSubscriptionStmt, Yes, "DROP SUBSCRIPTION", "none on relations"),
    NO_BLOCKING_LOCK(CreateStatsStmt, Yes, "CREATE STATISTICS",
                     "SHARE UPDATE EXCLUSIVE on the table (CreateStatistics)"),
    NO_BLOCKING_LOCK(AlterStatsStmt, Yes, "ALTER STATISTICS",
                     "none on the table (the statistics object's own row)"),
    NO_BLOCKING_LOCK(AlterCollationStmt, Yes, "ALTER COLLATION", "none"),
#if PG_VERSION_NUM >= 190000
    NO_BLOCKING_LOCK(WaitStmt, No, "WAIT FOR LSN", "none (waits for replay on a standby)"),
#endif

    // Statements that run others: each of those passes the hooks itself.
    RUNS_STATEMENTS(DoStmt, No, "DO", "what its statements take: each passes the hooks, nested"),
    RUNS_STATEMENTS(CallStmt, No, "CALL",
                    "what the procedure's statements take: each passes the hooks, nested"),
    RUNS_STATEMENTS(CreateSchemaStmt, Yes, "CREATE SCHEMA",
                    "its elements (CREATE TABLE, INDEX, ...) pass the hook as subcommands"),
    RUNS_STATEMENTS(ExplainStmt, No, "EXPLAIN",
                    "EXPLAIN ANALYZE runs its query through the executor (and its hook)"),
    RUNS_STATEMENTS(ExecuteStmt, No, "EXECUTE", "the prepared query runs through the executor"),
    RUNS_STATEMENTS(DeclareCursorStmt, No, "DECLARE CURSOR",
                    "its query runs through the executor: ACCESS SHARE"),
    RUNS_STATEMENTS(CreateExtensionStmt, Yes, "CREATE EXTENSION",
                    "its script's statements; the guard does not judge an extension's own "
                    "script (creating_extension)"),
    RUNS_STATEMENTS(AlterExtensionStmt, Yes, "ALTER EXTENSION ... UPDATE",
                    "its script's statements; the guard does not judge an extension's own "
                    "script (creating_extension)"),

    // Tags of the statement section of nodes.h that never reach the ProcessUtility hook.
    NOT_UTILITY(RawStmt, "the parser's wrapper of any statement"),
    NOT_UTILITY(Query, "an analyzed statement"),
    NOT_UTILITY(PlannedStmt, "a planned statement (the hook's argument)"),
    NOT_UTILITY(InsertStmt, "INSERT: the executor"),
    NOT_UTILITY(DeleteStmt, "DELETE: the executor (rule whole-table-dml)"),
    NOT_UTILITY(UpdateStmt, "UPDATE: the executor (rule whole-table-dml)"),
    NOT_UTILITY(MergeStmt, "MERGE: the executor"),
    NOT_UTILITY(SelectStmt, "SELECT: the executor"),
    NOT_UTILITY(SetOperationStmt, "UNION / INTERSECT / EXCEPT: the executor"),
    NOT_UTILITY(ReturnStmt, "RETURN of an SQL-standard function body"),
    NOT_UTILITY(PLAssignStmt, "a PL/pgSQL assignment"),
    NOT_UTILITY(AlterTableCmd, "one subcommand of ALTER TABLE (zd_alter_table_subcommands())"),
    NOT_UTILITY(ReplicaIdentityStmt, "REPLICA IDENTITY, a subcommand of ALTER TABLE"),
};

#undef GATHERED
#undef NO_BLOCKING_LOCK
#undef RUNS_STATEMENTS
#undef NOT_UTILITY

const size_t kStatementKindCount = sizeof(kStatementKinds) / sizeof(kStatementKinds[0]);

namespace {

// The fast path's lookup: an array indexed by node tag, filled when the library loads.
struct ByTag {
  const StatementKind *slot[kStatementKindSlots] = {};
  ByTag() {
    for (size_t i = 0; i < kStatementKindCount; i++)
      if ((unsigned) kStatementKinds[i].tag < (unsigned) kStatementKindSlots)
        slot[kStatementKinds[i].tag] = &kStatementKinds[i];
  }
};

const ByTag by_tag;

}  // namespace

const StatementKind *const *const statement_kind_slots = by_tag.slot;

const StatementKind *statement_kind_beyond_slots(NodeTag tag) {
  for (size_t i = 0; i < kStatementKindCount; i++)
    if (kStatementKinds[i].tag == tag) return &kStatementKinds[i];
  return nullptr;
}

const char *schema_change_name(SchemaChange schema) {
  switch (schema) {
    case SchemaChange::No: return "no";
    case SchemaChange::Yes: return "yes";
    case SchemaChange::Secret: return "yes, string constants redacted";
  }
  return "?";
}

const char *handling_name(StatementHandling handling) {
  switch (handling) {
    case StatementHandling::Gathered: return "gathered: rules and lock cap";
    case StatementHandling::NoBlockingLock: return "passes: no blocking lock";
    case StatementHandling::RunsStatements: return "passes: runs statements judged on their own";
    case StatementHandling::NotUtility: return "not a utility statement";
  }
  return "?";
}

}  // namespace zd::pg
