// What the gather step (src/pg/gather_*.cpp) learns about a utility statement from its parse
// tree and the live catalog, as plain data.  The decide step reads nothing else.
#pragma once

#include "core/lock.hpp"
#include "core/text.hpp"

#include <cstdint>
#include <type_traits>

namespace zd {

// Where the statement runs.  Only in autocommit can a rewrite commit between its steps.
enum class TxContext {
  Autocommit,        // a top-level statement alone in its own transaction
  TransactionBlock,  // BEGIN ... COMMIT, or an implicit block (several statements in one query)
  Nested,            // inside a function, procedure or DO block
};

struct TableFacts {
  Text name;  // schema-qualified, quoted for SQL: public.orders
  bool exists = false;
  bool created_in_transaction = false;  // nobody else can see it yet
  bool temporary = false;               // private to the session
  bool partitioned = false;
  bool size_known = false;
  int64_t size_bytes = 0;       // heap of the table (of all its partitions when partitioned)
  double estimated_rows = -1;   // pg_class.reltuples; -1 when never analysed
  bool empty = false;           // no row at all (checked, not estimated)
  uint32_t oid = 0;             // the relation's OID (for the PostgreSQL side)
};

// A lock that blocks the application, on a table other sessions use, that the current
// transaction took earlier and still holds: every long operation after it extends the outage
// until commit.
struct HeldLock {
  Lock lock = Lock::None;  // None: the transaction holds no such lock
  Text table;              // schema-qualified
  Text statement;          // the statement that took it
};

// One thing a statement does to one table.  An ALTER TABLE with several subcommands yields
// several operations.
enum class OpKind {
  CreateIndex,
  DropIndex,
  Reindex,
  RefreshMatView,
  AddColumn,
  AlterColumnType,
  SetNotNull,
  AddCheck,
  AddForeignKey,
  AddUnique,
  AddPrimaryKey,
  AddExclude,
  DropColumn,
  RenameColumn,
  RenameTable,
  DropTable,
  VacuumFull,
  Cluster,
  Repack,  // 19: REPACK without CONCURRENTLY (REPACK (CONCURRENTLY) is not one: it blocks nobody)
  SetLogged,
  SetUnlogged,
  SetTablespace,
  SetAccessMethod,
  AttachPartition,
  DetachPartition,
  ValidateConstraint,  // scans under SHARE UPDATE EXCLUSIVE: safe, unless a lock is held already
  DomainCheck,         // ALTER DOMAIN checking the rows of a table that uses the domain
  WholeTableDml,       // UPDATE / DELETE in a transaction that changed the schema
  SetExpression,       // 17+: SET EXPRESSION of a stored generated column (rewrites the table)
  OtherLocking,  // any other statement that locks an existing table (the lock cap only)
};

// What the catalog holds under the name a CREATE INDEX (or one of its partitions' indexes) would
// use.  An interrupted build (cancelled, or its backend terminated) leaves an INVALID index; a
// re-run of the statement finishes the job with it instead of building a second index.
enum class IndexNameHolder : uint8_t {
  Free,             // nothing: the index is built under that name
  InvalidLeftover,  // an INVALID index on the same table, attached to no parent index and
                    // backing no constraint: unused, replaced (or, partitioned, reused)
  ValidUnattached,  // a valid index on the same partition, attached to no parent index
  Attached,         // a partition's index already attached to the partitioned index
  ValidIndex,       // a valid index on the same table
  Other,            // another relation (or an index of another table, or attached elsewhere)
};

// SET NOT NULL's helper constraint (table_column_not_null), left by an interrupted run.
enum class HelperState : uint8_t {
  None,       // no such constraint
  NotValid,   // CHECK (column IS NOT NULL) NOT VALID
  Validated,  // CHECK (column IS NOT NULL), validated
};

struct Operation {
  OpKind kind = OpKind::OtherLocking;
  TableFacts table;
  Lock lock = Lock::None;      // the lock it takes on the table, as written
  Text command;         // "CREATE INDEX", "ALTER TABLE ... ADD COLUMN", ...
  bool concurrently = false;   // already in its CONCURRENTLY form

  // Columns and constraints (quoted names).
  Text column;
  // Expand/contract: the active migration that owns `column` (0: none), its phase, and whether
  // `column` is its old side (the one its contract drops).
  int64_t migration = 0;
  Text migration_phase;
  bool migration_old_column = false;
  // DROP TABLE / DROP COLUMN: what the server's record of use shows (src/pg/expand/usage.cpp),
  // for drop-table and drop-column: the table (or column) is not in use when the server has
  // recorded its use long enough and no application used it within the quiet period.
  int64_t usage_quiet_s = 0;         // zero_downtime.contract_quiet_period; 0: not consulted
  Text usage_unavailable;            // why there is no record ("" = there can be one)
  bool usage_tracked = false;        // its use was recorded before this statement
  bool usage_since_creation = false; // ... since the table was created: nothing went unseen
  bool usage_track_started = false;  // this statement started recording it
  int64_t usage_tracked_s = 0;       // for how long, in seconds
  Text usage_tracked_since;          // since when (a timestamp, as text)
  int64_t usage_idle_s = -1;         // seconds since an application last used it; -1: never
  Text usage_last_used;              // when (a timestamp, as text)
  Text usage_applications;           // who, within the quiet period: 'app' (at ...), ...
  Text usage_track_call;             // the call that starts recording it: SELECT zd.zd_track(...)
  Text usage_show_call;              // the query that shows the record: SELECT * FROM zd.zd_usage(...)
  Text column_type;            // format_type output: numeric(10,2)
  Text column_base_type;       // for a domain, its base type; else the same as column_type
  Text new_column_type;        // ALTER TYPE target
  Text default_sql;            // deparsed default expression, "" if none
  bool default_volatile = false;      // clock_timestamp(), random(), nextval (serial) ...
  bool domain_checked = false;        // a domain type with constraints: checked on every row
  bool identity = false;              // serial, or GENERATED ... AS IDENTITY
  bool generated_stored = false;      // GENERATED ALWAYS AS (...) STORED
  bool not_null = false;              // NOT NULL in the column definition
  bool type_change_rewrites = false;  // ALTER TYPE needs a table rewrite (from the catalog)
  // ALTER TYPE without a rewrite still re-adds the CHECK constraints on the column, checking
  // every row (their names and definitions), and rebuilds the column's indexes when the
  // collation changes (their definitions; any_constraint_index: one backs a constraint).
  Span<const Text> rechecked_names;
  Span<const Text> rechecked_defs;
  Span<const Text> rebuilt_index_names;
  Span<const Text> rebuilt_index_defs;
  bool rebuilt_constraint_index = false;
  bool has_valid_not_null_check = false;  // a valid CHECK (col IS NOT NULL) exists
  bool column_not_null = false;           // SET NOT NULL: the column is NOT NULL already
  HelperState helper_state = HelperState::None;  // SET NOT NULL: its helper, constraint_name
  Text constraint_name;        // given or chosen
  bool not_valid = false;             // already NOT VALID
  Span<const Text> key_columns;  // UNIQUE / PRIMARY KEY columns
  Span<const Text> nullable_key_columns;  // of those, the ones not yet NOT NULL
  bool constraint_rewritable = true;  // false when options we cannot carry over are present
  Text new_name;               // RENAME target
  Text partition_name;         // ATTACH / DETACH PARTITION: the partition
  bool partition_check_implied = true;  // ATTACH: a valid CHECK already implies the bound
  Text partition_check_sql;             // ATTACH: the partition constraint, as SQL

  // The statement's own text and where the gather step found insertion points (byte offsets
  // into statement_sql, found with PostgreSQL's lexer; -1 when not applicable).
  Text statement_sql;
  int concurrently_at = -1;   // where " CONCURRENTLY" goes
  Text index_name;     // CREATE INDEX: the name, chosen when the statement gave none
  Text index_qualified_name;  // the same, schema-qualified (for DROP INDEX)
  Text index_bare_name;       // the same, unquoted (as PostgreSQL's messages name it)
  bool index_named = true;    // the statement named the index
  int not_valid_at = -1;      // where " NOT VALID" goes (end of the constraint, also among
                              // other subcommands)
  int index_tail_at = -1;     // CREATE INDEX: where the text after the table's name starts
  bool unique_index = false;  // CREATE UNIQUE INDEX
  bool if_not_exists = false;  // CREATE INDEX IF NOT EXISTS
  IndexNameHolder index_name_holder = IndexNameHolder::Free;  // what holds index_name now

  // CREATE INDEX on a partitioned table: its partitions and the index each one gets.
  Span<const Text> partitions;                 // schema-qualified
  Span<const Text> partition_index_names;      // unqualified, for CREATE INDEX
  Span<const Text> partition_index_qualified;  // schema-qualified, for ATTACH and DROP
  Span<const IndexNameHolder> partition_index_holders;  // what holds each name now
  bool nested_partitions = false;              // a partition is itself partitioned
  bool only_parent = false;                    // CREATE INDEX ... ON ONLY: no build at all
  int constraint_name_at = -1;  // where "CONSTRAINT name " goes for an unnamed constraint
  int constraint_at = -1;  // ADD CONSTRAINT: where its text starts (ends at not_valid_at)
  bool no_transaction_block = false;  // VACUUM, bare CLUSTER: PostgreSQL refuses them in one
  bool tablespace_unchanged = false;  // SET TABLESPACE to the one the table is in: a no-op
  // VACUUM FULL, CLUSTER, REPACK: the table has the index REPACK (CONCURRENTLY) (19) needs to
  // rebuild it online: its primary key, or the index REPLICA IDENTITY USING INDEX names.
  bool identity_index = false;
  // CLUSTER, REPACK ... USING INDEX: the rows are ordered by an index; index_name is the one
  // the statement names (quoted), empty for the table's clustered index.
  bool orders_by_index = false;
  // Stands only for a further relation the statement locks (a table a foreign key
  // references), for the lock cap: not one of the statement's changes.
  bool further_lock = false;
  // A table (or column) the statement reaches through another object it names: a DROP of a
  // schema, type or function ... CASCADE or DROP OWNED BY removing it, an ALTER DOMAIN
  // checking its rows.  `command` says which; judged whoever owns the table.
  bool through_other_object = false;

  // ADD COLUMN with a CHECK, UNIQUE or REFERENCES of its own: it scans (or builds an index on)
  // every row under the ADD's ACCESS EXCLUSIVE lock.
  enum class InlineConstraint { None, Check, Unique, ForeignKey };
  InlineConstraint inline_constraint = InlineConstraint::None;
  Text inline_constraint_name;  // the name PostgreSQL gives it (or the statement's)
  Text inline_constraint_sql;   // as a table constraint: CHECK (...), FOREIGN KEY (c) REFERENCES ...
  Text add_column_sql;          // the statement without it
  Text not_null_helper;  // ADD PRIMARY KEY: the helper CHECK's name (quoted) for nullable keys
  // SET NOT NULL, PostgreSQL 18+: helper_state is about the column's own NOT NULL constraint,
  // NOT VALID (constraint_name), not a helper CHECK.
  bool native_not_null = false;
  bool primary_key_using_index = false;  // ADD PRIMARY KEY USING INDEX (nullable_key_columns)
  bool default_from_domain = false;      // ADD COLUMN: the default is its domain's (none its own)
  Text domain_name;  // ALTER DOMAIN: the domain, schema-qualified (constraint_name: its constraint)
  // UPDATE / DELETE (WholeTableDml): the rows the planner expects it to change, and the
  // statement's clauses for the batched form (empty when it has FROM / USING / WITH).
  bool dml_delete = false;
  double dml_rows = 0;
  bool dml_full_scan = false;  // its plan reads the whole table (a sequential scan of it)
  Text dml_set_clause;
  Text dml_where_clause;
  bool scans_default_partition = false;  // ATTACH / PARTITION OF: the table is the default
                                         // partition, checked for rows of the new bound

  // REFRESH MATERIALIZED VIEW
  bool matview_has_unique_index = false;
  bool matview_populated = false;

  // DROP INDEX: a single index without CASCADE can go CONCURRENTLY.
  bool drop_single_without_cascade = false;
};

// The migration tool running the statement, when the server can tell (migration_tool.cpp):
// its hints then name only that tool.
enum class MigrationTool { Unknown, Psql, Knex, NodePgMigrate, Prisma, Drizzle };

struct StatementFacts {
  // The server's PG_VERSION_NUM (150018, 180006, ...): rules may differ by version.
  int server_version_num = 0;
  TxContext tx = TxContext::Autocommit;
  MigrationTool tool = MigrationTool::Unknown;
  // A rewrite refused for being in a transaction block may be deferred instead: the setting is
  // on, the block is one (not a function), and the extension's schema is there to record it.
  bool deferral_available = false;
  Text sql;  // the statement's text
  // An ALTER TABLE of several subcommands as one statement per subcommand, in order (empty
  // otherwise): what a refusal tells to run instead when one safe form cannot keep them all.
  Span<const Text> split_statements;
  // Rules a comment before the statement allows for it alone (/* zero_downtime: allow x */),
  // checked by gather against who may set zero_downtime.allow.
  Span<const Text> allowed_here;
  Span<const Operation> ops;
  HeldLock held;  // the strongest blocking lock this transaction already holds

  // How many changes the statement makes: its operations but those that only stand for a
  // further lock.
  size_t changes() const {
    size_t n = 0;
    for (const Operation &op : ops) n += op.further_lock ? 0 : 1;
    return n;
  }
};

static_assert(std::is_trivially_destructible_v<StatementFacts>,
              "facts live in palloc memory and must need no destructor");

}  // namespace zd
