#include "core/rule_catalog.hpp"

#include <cstring>

#include "core/pg_free.hpp"
#include "core/rules/rules.hpp"

namespace zd {

// In the order decide() tries them on an operation: the first finding wins, and
// long-under-held-lock, which looks at every kind, comes last.
const RuleInfo kRules[] = {
    {"create-index",
     "CREATE INDEX without CONCURRENTLY blocks writes for the whole build",
     bit(OpKind::CreateIndex), rules::create_index,
     "`CREATE INDEX` without `CONCURRENTLY`: SHARE lock blocks writes for the whole build",
     "rewrite to `CONCURRENTLY` (names an unnamed index); refuse on a partitioned table with "
         "the per-partition recipe",
     "`CREATE INDEX CONCURRENTLY`, outside a transaction"},
    {"drop-index",
     "DROP INDEX without CONCURRENTLY blocks every query on the table",
     bit(OpKind::DropIndex), rules::drop_index,
     "`DROP INDEX`: ACCESS EXCLUSIVE on the table",
     "rewrite to `CONCURRENTLY` (one index, no CASCADE), else refuse",
     "`DROP INDEX CONCURRENTLY`, one at a time"},
    {"reindex",
     "REINDEX without CONCURRENTLY blocks writes and reads using the index",
     bit(OpKind::Reindex), rules::reindex,
     "`REINDEX`: SHARE on the table, ACCESS EXCLUSIVE on the index",
     "rewrite to `CONCURRENTLY`",
     "`REINDEX ... CONCURRENTLY`"},
    {"refresh-materialized-view",
     "REFRESH without CONCURRENTLY blocks every read of the view",
     bit(OpKind::RefreshMatView), rules::refresh_materialized_view,
     "`REFRESH MATERIALIZED VIEW`: ACCESS EXCLUSIVE blocks readers",
     "rewrite to `CONCURRENTLY` when a usable unique index exists, else refuse; unpopulated "
         "views and `WITH NO DATA` pass",
     "add a unique index, `REFRESH ... CONCURRENTLY`"},
    {"add-check",
     "ADD CHECK scans the table under ACCESS EXCLUSIVE",
     bit(OpKind::AddCheck), rules::add_check_or_foreign_key,
     "`ADD CHECK` scans under ACCESS EXCLUSIVE",
     "rewrite: `NOT VALID`, then `VALIDATE`",
     "the same two statements"},
    {"add-foreign-key",
     "ADD FOREIGN KEY scans under SHARE ROW EXCLUSIVE on both tables",
     bit(OpKind::AddForeignKey), rules::add_check_or_foreign_key,
     "`ADD FOREIGN KEY` scans under SHARE ROW EXCLUSIVE on both tables",
     "rewrite: `NOT VALID`, then `VALIDATE`; refuse on partitioned tables before 18 (no `NOT "
         "VALID` FK there)",
     "the same two statements",
     "partitioned table: refused before 18; 18+ rewritten `NOT VALID` + `VALIDATE` too"},
    {"set-not-null",
     "SET NOT NULL scans the table under ACCESS EXCLUSIVE",
     bit(OpKind::SetNotNull), rules::set_not_null,
     "`SET NOT NULL` scans under ACCESS EXCLUSIVE",
     "rewrite: `CHECK (c IS NOT NULL) NOT VALID`, `VALIDATE`, `SET NOT NULL`, drop the check "
         "(PostgreSQL 18+: `ADD CONSTRAINT ... NOT NULL c NOT VALID`, `VALIDATE`); allowed when a "
         "valid check already implies it",
     "the same statements",
     "18+: PostgreSQL's own `NOT NULL ... NOT VALID` and `VALIDATE`, no helper CHECK"},
    {"add-unique",
     "ADD UNIQUE builds its index under ACCESS EXCLUSIVE",
     bit(OpKind::AddUnique), rules::add_unique_or_primary_key,
     "`ADD UNIQUE` builds its index under ACCESS EXCLUSIVE",
     "rewrite: `CREATE UNIQUE INDEX CONCURRENTLY`, `ADD CONSTRAINT ... USING INDEX`; refuse "
         "when options (INCLUDE, DEFERRABLE, ...) must be carried over",
     "the same two statements"},
    {"add-primary-key",
     "ADD PRIMARY KEY builds its index under ACCESS EXCLUSIVE",
     bit(OpKind::AddPrimaryKey), rules::add_unique_or_primary_key,
     "as `add-unique`",
     "as `add-unique`, the `set-not-null` steps first for nullable key columns",
     "the same statements"},
    {"add-exclude",
     "ADD EXCLUDE builds its index under ACCESS EXCLUSIVE, with no online form",
     bit(OpKind::AddExclude), rules::add_exclude,
     "`ADD EXCLUDE` builds under ACCESS EXCLUSIVE, no concurrent form",
     "refuse on large tables",
     "maintenance window: `/* zero_downtime: allow add-exclude */` before the statement"},
    {"alter-domain-check",
     "ALTER DOMAIN ADD CONSTRAINT / VALIDATE / SET NOT NULL checks every table using the domain "
     "under SHARE",
     bit(OpKind::DomainCheck), rules::alter_domain_check,
     "`ALTER DOMAIN ... ADD CONSTRAINT` (validated), `VALIDATE CONSTRAINT`, `SET NOT NULL`: "
         "every row of every table using the domain (and domains over it) is checked under SHARE "
         "on that table",
     "refuse on tables that are not small",
     "`ADD CONSTRAINT ... NOT VALID` (new values checked at once); validate in a maintenance "
         "window"},
    {"add-column-volatile-default",
     "ADD COLUMN with a volatile default, serial, identity or constrained domain rewrites",
     bit(OpKind::AddColumn), rules::add_column,
     "`ADD COLUMN` with a volatile default (`clock_timestamp()`, `gen_random_uuid()`), serial, "
         "identity, or a domain with constraints: rewrites every row",
     "refuse",
     "add the column plainly, set the default, backfill in batches (`zd_backfill`)"},
    {"add-column-generated-stored",
     "ADD COLUMN ... GENERATED ALWAYS AS ... STORED rewrites",
     bit(OpKind::AddColumn), rules::add_column,
     "`ADD COLUMN ... GENERATED ALWAYS AS (...) STORED` rewrites",
     "refuse",
     "plain column, trigger for new rows, batched backfill",
     "18+: a virtual generated column (18's default) rewrites nothing and passes"},
    {"add-column-not-null",
     "ADD COLUMN NOT NULL without default fails on a non-empty table",
     bit(OpKind::AddColumn), rules::add_column,
     "`ADD COLUMN ... NOT NULL` without default on a non-empty table: scans, then fails",
     "refuse",
     "add with a constant default, or nullable + backfill + `SET NOT NULL`"},
    {"migration-owned",
     "DROP / RENAME / ALTER TYPE of a column an active expand/contract migration owns",
     bit(OpKind::DropColumn) | bit(OpKind::RenameColumn) | bit(OpKind::AlterColumnType),
     rules::migration_owned,
     "`DROP COLUMN`, `RENAME COLUMN`, `ALTER COLUMN TYPE` of a column an active migration "
         "(`zd_migrations`) owns, from any client",
     "refuse (`ZD004`), naming the `zd_*` call legal now; `DROP COLUMN` of the old column of a "
         "migration that may contract runs its contract",
     "`SELECT zd_contract(id)` or `SELECT zd_abort(id)`"},
    {"set-expression",
     "SET EXPRESSION of a stored generated column rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::SetExpression), rules::set_expression,
     "`ALTER COLUMN ... SET EXPRESSION` (17+) of a stored generated column rewrites under "
         "ACCESS EXCLUSIVE",
     "refuse; a virtual column's (18+) passes",
     "a plain column, trigger for new rows, batched backfill, switch",
     "17+ only (the statement is new)"},
    {"alter-column-type",
     "ALTER COLUMN TYPE that is not binary-coercible rewrites the table",
     bit(OpKind::AlterColumnType), rules::alter_column_type,
     "`ALTER COLUMN TYPE` whose planned coercion is not a relabel (decided from the catalog as "
         "`tablecmds.c` does): rewrites and rebuilds indexes",
     "refuse; `varchar(n)`→`varchar(m≥n)`/`text`, `numeric(p,s)`→`numeric(p2≥p,s)`, "
         "unconstrained domains pass; with `zero_downtime.orm_renames = migrate`, starts the "
         "expand/contract migration instead",
     "`zd_expand_change_type` (expand/contract: new column, sync trigger, backfill, contract)"},
    {"drop-column",
     "DROP COLUMN breaks the code still using it",
     bit(OpKind::DropColumn), rules::drop_column,
     "`DROP COLUMN` on a table with rows breaks the code still using it",
     "refuse, unless the server's record of use shows no application used the column for "
         "`zero_downtime.contract_quiet_period` (recorded since a refused drop or `zd_track`)",
     "deploy code that no longer uses it, then `/* zero_downtime: allow drop-column */` before "
         "the statement"},
    {"rename-column",
     "RENAME COLUMN breaks the code still using the old name",
     bit(OpKind::RenameColumn), rules::rename_column,
     "`RENAME COLUMN` breaks the code using the old name",
     "refuse; with `zero_downtime.orm_renames = migrate`, starts the expand/contract migration "
         "instead",
     "`zd_expand_rename_column` (expand/contract), or allow once no code uses the old name"},
    {"rename-table",
     "RENAME of a table breaks the code still using the old name",
     bit(OpKind::RenameTable), rules::rename_table,
     "`ALTER TABLE ... RENAME TO` breaks the code using the old name",
     "refuse",
     "rename and create a view under the old name in one transaction"},
    {"drop-table",
     "DROP TABLE breaks the code still using it, and loses its rows",
     bit(OpKind::DropTable), rules::drop_table,
     "`DROP TABLE` on a table with rows breaks code and loses data",
     "refuse, unless the server's record of use shows no application used the table for "
         "`zero_downtime.contract_quiet_period` (recorded since a refused drop, `zd_track`, or "
         "its creation with `zero_downtime.track_new_tables`)",
     "deploy code that no longer uses it, then allow once"},
    {"vacuum-full",
     "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::VacuumFull), rules::table_rewrite,
     "rewrites under ACCESS EXCLUSIVE",
     "refuse",
     "plain `VACUUM`; pg_repack / pg_squeeze to shrink online",
     "19: offers `REPACK (CONCURRENTLY)` (needs a primary key or replica identity index)"},
    {"cluster",
     "CLUSTER rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::Cluster), rules::table_rewrite,
     "rewrites under ACCESS EXCLUSIVE",
     "refuse",
     "pg_repack `--order-by`",
     "19: offers `REPACK (CONCURRENTLY) ... USING INDEX`"},
    {"repack",
     "REPACK without CONCURRENTLY rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::Repack), rules::table_rewrite,
     "`REPACK` without `CONCURRENTLY`: rewrites under ACCESS EXCLUSIVE",
     "refuse; `REPACK (CONCURRENTLY)` passes (lock cap only)",
     "`REPACK (CONCURRENTLY)`, outside a transaction",
     "19 only (the statement is new)"},
    {"set-logged",
     "SET LOGGED rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::SetLogged), rules::table_rewrite,
     "rewrite under ACCESS EXCLUSIVE",
     "refuse",
     "copy in batches and switch, or a maintenance window"},
    {"set-unlogged",
     "SET UNLOGGED rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::SetUnlogged), rules::table_rewrite,
     "rewrite under ACCESS EXCLUSIVE",
     "refuse",
     "copy in batches and switch, or a maintenance window"},
    {"set-tablespace",
     "SET TABLESPACE copies the table under ACCESS EXCLUSIVE",
     bit(OpKind::SetTablespace), rules::table_rewrite,
     "copies under ACCESS EXCLUSIVE",
     "refuse",
     "pg_repack `--tablespace`"},
    {"set-access-method",
     "SET ACCESS METHOD rewrites the table under ACCESS EXCLUSIVE",
     bit(OpKind::SetAccessMethod), rules::table_rewrite,
     "rewrites under ACCESS EXCLUSIVE",
     "refuse",
     "new table, batched copy, switch"},
    {"attach-partition",
     "ATTACH PARTITION scans the partition under ACCESS EXCLUSIVE unless a CHECK implies it",
     bit(OpKind::AttachPartition), rules::attach_partition,
     "`ATTACH PARTITION` scans the partition under ACCESS EXCLUSIVE unless a valid CHECK "
         "implies its bound; `ATTACH` and `CREATE TABLE ... PARTITION OF` also scan the parent's "
         "default partition for rows of the new bound",
     "rewrite: a helper CHECK (the bound, or for the default partition `NOT` the bound) `NOT "
         "VALID`, `VALIDATE`, the statement, drop the helper",
     "the same four statements"},
    {"detach-partition",
     "DETACH PARTITION without CONCURRENTLY blocks every query on the table",
     bit(OpKind::DetachPartition), rules::detach_partition,
     "`DETACH PARTITION`: ACCESS EXCLUSIVE on the parent",
     "rewrite to `CONCURRENTLY`; refuse when a default partition makes that impossible",
     "`DETACH PARTITION ... CONCURRENTLY`"},
    {"whole-table-dml",
     "UPDATE / DELETE of many rows in a transaction that changed the schema locks them until "
     "commit",
     bit(OpKind::WholeTableDml), rules::whole_table_dml,
     "`UPDATE` / `DELETE` in a transaction that changed the schema (a migration's: after DDL "
         "in a transaction block or one query string) expected to change 10,000 rows or more, or "
         "reading the whole table, on a table that is not small: every row stays locked, with the "
         "DDL's locks, until commit",
     "refuse (an `ExecutorStart` hook; DML of transactions without DDL is never judged: two "
         "comparisons, ~45 instructions a query)",
     "commit the DDL, then `zd_backfill` (the hint has the call with the statement's clauses) "
         "or batched `DELETE`s"},
    // Judges statements, not operations (src/core/drift.cpp, called from the hook for every
    // statement that changes the schema): no operation kind, no check function.
    {"schema-drift",
     "DDL from a role outside zero_downtime.schema_roles (zero_downtime.schema_drift)",
     kStatementLevel, nullptr,
     "a statement that changes the schema (see *Schema drift*) run by a role that is not a "
         "member of a role in `zero_downtime.schema_roles`, on objects that are not temporary nor "
         "created in the same transaction: the next migration fails where it passed in staging",
     "with `zero_downtime.schema_drift = warn`: a WARNING; `refuse`: refuse (`ZD006`); both "
         "recorded in the journal and the drift report",
     "put the change in a migration run as a schema role"},
    {"long-under-held-lock",
     "VALIDATE or REFRESH CONCURRENTLY scans under a blocking lock the transaction holds",
     kAllKinds, rules::long_under_held_lock,
     "`VALIDATE CONSTRAINT` or `REFRESH ... CONCURRENTLY` (safe alone) in a transaction that "
         "already holds a lock blocking the application on a live table, taken by an earlier "
         "statement (`ADD CONSTRAINT ... NOT VALID; VALIDATE ...` sent as one migration file): the "
         "scan runs under that lock until commit",
     "refuse, naming the lock, its table and the statement that took it (checked against "
         "PostgreSQL's lock table, so a lock a `ROLLBACK TO SAVEPOINT` released does not count)",
     "commit first; the scan in a transaction of its own"},
};

const size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

const RuleInfo *find_rule(const char *name) {
  for (size_t i = 0; i < kRuleCount; i++)
    if (std::strcmp(kRules[i].name, name) == 0) return &kRules[i];
  return nullptr;
}

const VersionNote kVersionNotes[] = {
    {0, 180000,
     "set-not-null: rewritten as a helper CHECK (c IS NOT NULL) NOT VALID, VALIDATE, SET NOT "
     "NULL (which the valid CHECK spares its scan), then the helper dropped: before 18 a NOT "
     "NULL cannot be NOT VALID"},
    {180000, 0,
     "set-not-null: rewritten as PostgreSQL's own ADD CONSTRAINT ... NOT NULL c NOT VALID, then "
     "VALIDATE CONSTRAINT (18+)"},
    {0, 180000,
     "add-foreign-key: refused on a partitioned table, with the per-partition recipe: before 18 "
     "a foreign key there cannot be NOT VALID"},
    {180000, 0,
     "add-foreign-key: on a partitioned table too, rewritten as NOT VALID, then VALIDATE "
     "CONSTRAINT (18+)"},
    {180000, 0,
     "add-column-generated-stored: only a STORED generated column is refused; a VIRTUAL one "
     "(the default since 18) rewrites nothing and passes"},
    {170000, 0,
     "set-expression: SET EXPRESSION of a stored generated column refused (it rewrites the "
     "table); of a virtual one (18+) it passes (17+)"},
    {190000, 0,
     "vacuum-full, cluster: REPACK (CONCURRENTLY) offered as the online form where the table "
     "has an identity index (19+)"},
    {190000, 0,
     "repack: REPACK without CONCURRENTLY refused; REPACK (CONCURRENTLY) passes, lock cap "
     "only (19+)"},
};
const size_t kVersionNoteCount = sizeof kVersionNotes / sizeof kVersionNotes[0];

const char *op_kind_name(OpKind kind) {
  switch (kind) {
#define ZD_KIND(k) \
  case OpKind::k: return #k;
    ZD_KIND(CreateIndex)
    ZD_KIND(DropIndex)
    ZD_KIND(Reindex)
    ZD_KIND(RefreshMatView)
    ZD_KIND(AddColumn)
    ZD_KIND(AlterColumnType)
    ZD_KIND(SetNotNull)
    ZD_KIND(AddCheck)
    ZD_KIND(AddForeignKey)
    ZD_KIND(AddUnique)
    ZD_KIND(AddPrimaryKey)
    ZD_KIND(AddExclude)
    ZD_KIND(DropColumn)
    ZD_KIND(RenameColumn)
    ZD_KIND(RenameTable)
    ZD_KIND(DropTable)
    ZD_KIND(VacuumFull)
    ZD_KIND(Cluster)
    ZD_KIND(Repack)
    ZD_KIND(SetLogged)
    ZD_KIND(SetUnlogged)
    ZD_KIND(SetTablespace)
    ZD_KIND(SetAccessMethod)
    ZD_KIND(AttachPartition)
    ZD_KIND(DetachPartition)
    ZD_KIND(ValidateConstraint)
    ZD_KIND(DomainCheck)
    ZD_KIND(WholeTableDml)
    ZD_KIND(SetExpression)
    ZD_KIND(OtherLocking)
#undef ZD_KIND
  }
  return "?";
}

}  // namespace zd
