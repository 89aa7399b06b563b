// create-index, drop-index, reindex, refresh-materialized-view: build or drop with
// CONCURRENTLY so that writes (and reads) go on.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {

namespace {

// CREATE INDEX on a partitioned table: CONCURRENTLY is not supported there, so the index goes
// on the parent only (a catalog entry, INVALID and unused), is built CONCURRENTLY on each
// partition, and each partition's index is attached; the last ATTACH makes the parent valid.
std::vector<Step> partitioned_index_steps(const Operation &op) {
  const std::string head = op.unique_index ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
  const std::string tail = op.statement_sql.str().substr(op.index_tail_at);
  std::vector<Step> steps;
  Step parent;
  parent.sql = head + op.index_name + " ON ONLY " + op.table.name + tail;
  parent.lock = Lock::Share;
  parent.effect = "the index " + op.index_qualified_name + " on " + op.table.name +
                  " alone, INVALID (unused) until every partition's index is attached";
  parent.undo_sql = "DROP INDEX " + op.index_qualified_name;
  steps.push_back(parent);
  for (size_t i = 0; i < op.partitions.size(); ++i) {
    Step build;
    build.sql = head + "CONCURRENTLY " + op.partition_index_names[i] + " ON " +
                op.partitions[i] + tail;
    build.lock = Lock::ShareUpdateExclusive;
    build.locked_table = op.partitions[i];
    build.effect = "the index " + op.partition_index_qualified[i] + " on " + op.partitions[i];
    build.undo_sql = "DROP INDEX CONCURRENTLY IF EXISTS " + op.partition_index_qualified[i];
    build.leaves_on_failure = "an INVALID index " + op.partition_index_qualified[i] +
                              " that every write to " + op.partitions[i] + " still updates";
    build.cleanup_sql = build.undo_sql;
    build.retry_needs_cleanup = true;
    steps.push_back(build);
  }
  for (size_t i = 0; i < op.partitions.size(); ++i) {
    Step attach;
    attach.sql = "ALTER INDEX " + op.index_qualified_name + " ATTACH PARTITION " +
                 op.partition_index_qualified[i];
    attach.lock = Lock::AccessExclusive;  // on the partition's new index
    attach.locked_table = op.partitions[i];
    steps.push_back(attach);
  }
  return steps;
}

}  // namespace

RuleResult create_index(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.concurrently || op.only_parent || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  if (op.table.partitioned && !op.nested_partitions && op.index_tail_at >= 0) {
    return rewrite_or_refuse(
        ctx, "create-index",
        "CREATE INDEX on partitioned table " + op.table.name + " would block writes to every "
            "partition",
        lock_detail(op, op.lock, "on every partition for the whole build") +
            " CONCURRENTLY is not supported on a partitioned table itself.",
        partitioned_index_steps(op));
  }
  if (op.table.partitioned) {
    return make_refusal(
        "create-index", "create-index: CREATE INDEX on partitioned table " + op.table.name +
                            " would block writes to every partition",
        lock_detail(op, op.lock, "on every partition for the whole build") +
            " CONCURRENTLY is not supported on a partitioned table, and its partitions are "
            "partitioned themselves.",
        "Build it partition by partition, outside a transaction block:\n"
        "CREATE INDEX " + op.index_name + " ON ONLY " + op.table.name + " (...);\n"
        "CREATE INDEX CONCURRENTLY ... ON <each partition> (...);\n"
        "ALTER INDEX " + op.index_name + " ATTACH PARTITION <each partition's index>;");
  }
  Step step;
  step.sql = insert_at(op.statement_sql, op.concurrently_at,
                       op.index_named ? " CONCURRENTLY" : " CONCURRENTLY " + op.index_name);
  step.lock = Lock::ShareUpdateExclusive;
  step.leaves_on_failure = "an INVALID index " + op.index_name + " that every write still updates";
  step.cleanup_sql = "DROP INDEX CONCURRENTLY IF EXISTS " + op.index_qualified_name;
  step.retry_needs_cleanup = true;
  return rewrite_or_refuse(ctx, "create-index",
                           "CREATE INDEX on " + op.table.name + " would block writes",
                           lock_detail(op, op.lock, "for the whole index build"), {step});
}

RuleResult drop_index(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  // Indexes of partitioned tables cannot be dropped CONCURRENTLY: only the lock cap applies.
  if (op.concurrently || op.table.partitioned || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  Step step;
  step.sql = "DROP INDEX CONCURRENTLY " + op.index_qualified_name;
  step.lock = Lock::ShareUpdateExclusive;
  step.leaves_on_failure = "index " + op.index_qualified_name + ", possibly marked INVALID";
  step.cleanup_sql = step.sql;
  const std::string problem =
      "DROP INDEX " + op.index_qualified_name + " would block every query on " + op.table.name;
  const std::string detail = lock_detail(op, op.lock, "until every query using it has finished");
  if (!op.drop_single_without_cascade)
    return make_refusal("drop-index", "drop-index: " + problem,
                        detail + " DROP INDEX CONCURRENTLY takes one index at a time, without "
                                 "CASCADE.",
                        outside_transaction_hint(step.sql + ";"));
  return rewrite_or_refuse(ctx, "drop-index", problem, detail, {step});
}

RuleResult reindex(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.concurrently || exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  Step step;
  step.sql = insert_at(op.statement_sql, op.concurrently_at, " CONCURRENTLY");
  step.lock = Lock::ShareUpdateExclusive;
  step.leaves_on_failure =
      "INVALID indexes named *_ccnew on " + op.table.name + " that every write still updates";
  step.cleanup_sql = "SELECT format('DROP INDEX CONCURRENTLY %s;', indexrelid::regclass) FROM "
                     "pg_index WHERE NOT indisvalid AND indexrelid::regclass::text LIKE "
                     "'%_ccnew%' \\gexec";
  step.retry_needs_cleanup = true;
  return rewrite_or_refuse(
      ctx, "reindex", "REINDEX of " + op.table.name + " would block writes",
      lock_detail(op, op.lock,
                  "and an ACCESS EXCLUSIVE lock on each index, which blocks every query that "
                  "would use it, for the whole rebuild"),
      {step});
}

RuleResult refresh_materialized_view(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  // An unpopulated view cannot be read by anybody, so nothing waits on its refresh.
  if (op.concurrently || !op.matview_populated || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  const std::string problem =
      "REFRESH MATERIALIZED VIEW " + op.table.name + " would block every read of it";
  const std::string detail = lock_detail(op, op.lock, "for the whole refresh");
  if (!op.matview_has_unique_index)
    return make_refusal(
        "refresh-materialized-view", "refresh-materialized-view: " + problem,
        detail + " REFRESH ... CONCURRENTLY needs a unique index on the view, and it has none.",
        outside_transaction_hint("CREATE UNIQUE INDEX CONCURRENTLY ON " + op.table.name +
                                 " (<columns that identify a row>);\nREFRESH MATERIALIZED VIEW "
                                 "CONCURRENTLY " + op.table.name + ";"));
  Step step;
  step.sql = insert_at(op.statement_sql, op.concurrently_at, " CONCURRENTLY");
  step.lock = Lock::Exclusive;
  return rewrite_or_refuse(ctx, "refresh-materialized-view", problem, detail, {step});
}

}  // namespace zd::rules
