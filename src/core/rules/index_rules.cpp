// create-index, drop-index, reindex, refresh-materialized-view: build or drop with
// CONCURRENTLY so that writes (and reads) go on.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {

namespace {

// DROP INDEX CONCURRENTLY of an INVALID index an interrupted build left under the name the
// rewrite uses: it runs only while that index is still INVALID.
Step drop_leftover(const std::string &qualified, const std::string &table) {
  Step drop;
  drop.sql = "DROP INDEX CONCURRENTLY " + qualified;
  drop.lock = Lock::ShareUpdateExclusive;
  drop.locked_table = table;
  drop.effect = "the INVALID index " + qualified + " (left by an earlier run) dropped";
  drop.only_if_invalid_index = qualified;
  return drop;
}

// CREATE INDEX on a partitioned table: CONCURRENTLY is not supported there, so the index goes
// on the parent only (a catalog entry, INVALID and unused), is built CONCURRENTLY on each
// partition, and each partition's index is attached; the last ATTACH makes the parent valid.
// A re-run after an interrupted one reuses what it left: the INVALID parent index, the valid
// indexes it built (attached, not built again), and skips the partitions already attached; an
// INVALID index it left on a partition is dropped and built again.
std::vector<Step> partitioned_index_steps(const Operation &op) {
  const std::string head = op.unique_index ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
  const std::string tail = op.statement_sql.str().substr(op.index_tail_at);
  auto holder = [&op](size_t i) {
    return i < op.partition_index_holders.size() ? op.partition_index_holders[i]
                                                 : IndexNameHolder::Free;
  };
  std::vector<Step> steps;
  if (op.index_name_holder != IndexNameHolder::InvalidLeftover) {
    Step parent;
    parent.sql = head + op.index_name + " ON ONLY " + op.table.name + tail;
    parent.lock = Lock::Share;
    parent.effect = "the index " + op.index_qualified_name + " on " + op.table.name +
                    " alone, INVALID (unused) until every partition's index is attached";
    parent.undo_sql = "DROP INDEX " + op.index_qualified_name;
    steps.push_back(parent);
  }
  for (size_t i = 0; i < op.partitions.size(); ++i) {
    const IndexNameHolder h = holder(i);
    if (h == IndexNameHolder::Attached || h == IndexNameHolder::ValidUnattached) continue;
    if (h == IndexNameHolder::InvalidLeftover)
      steps.push_back(drop_leftover(op.partition_index_qualified[i], op.partitions[i]));
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
    build.leftover_index = op.partition_index_qualified[i];
    steps.push_back(build);
  }
  for (size_t i = 0; i < op.partitions.size(); ++i) {
    if (holder(i) == IndexNameHolder::Attached) continue;
    Step attach;
    attach.sql = "ALTER INDEX " + op.index_qualified_name + " ATTACH PARTITION " +
                 op.partition_index_qualified[i];
    attach.lock = Lock::AccessExclusive;  // on the partition's new index
    attach.locked_table = op.partitions[i];
    attach.effect = op.partition_index_qualified[i] + " attached";
    steps.push_back(attach);
  }
  return steps;
}

// What a re-run reuses or replaces of an earlier, interrupted or failed, run, for the
// rewrite's DETAIL.
std::string leftovers_note(const Operation &op) {
  std::vector<std::string> replaced, attached_now;
  size_t attached = 0;
  for (size_t i = 0; i < op.partition_index_holders.size() && i < op.partitions.size(); ++i) {
    switch (op.partition_index_holders[i]) {
      case IndexNameHolder::Attached: ++attached; break;
      case IndexNameHolder::ValidUnattached: attached_now.push_back(op.partition_index_qualified[i]); break;
      case IndexNameHolder::InvalidLeftover: replaced.push_back(op.partition_index_qualified[i]); break;
      default: break;
    }
  }
  auto list = [](const std::vector<std::string> &names) {
    std::string text;
    for (const std::string &n : names) text += (text.empty() ? "" : ", ") + n;
    return text;
  };
  const bool leftover = op.index_name_holder == IndexNameHolder::InvalidLeftover;
  if (leftover && !op.table.partitioned) replaced.insert(replaced.begin(), op.index_qualified_name);
  std::string note;
  if (leftover && op.table.partitioned)
    note += " An earlier run left the INVALID index " + op.index_qualified_name.str() +
            ": this run reuses it.";
  if (!replaced.empty())
    note += " An earlier run left the INVALID index" +
            std::string(replaced.size() > 1 ? "es " : " ") + list(replaced) +
            ": dropped CONCURRENTLY and built again.";
  if (!attached_now.empty())
    note += " An earlier run built " + list(attached_now) + ": attached, not built again.";
  if (attached > 0)
    note += " " + std::to_string(attached) + " partition" + (attached > 1 ? "s have" : " has") +
            " its index attached already: skipped.";
  return note;
}

// CREATE INDEX under a name a relation holds already: PostgreSQL's own error, before any lock.
Finding name_taken(const Operation &op) {
  Finding f = make_refusal("create-index",
                           "relation \"" + op.index_bare_name + "\" already exists",
                           op.index_name_holder == IndexNameHolder::ValidIndex
                               ? op.index_qualified_name + " is a valid index on " +
                                     op.table.name + "; nothing was changed."
                               : op.index_qualified_name + " is taken by another relation (or "
                                     "by an index of another table, or one attached to a "
                                     "partitioned index); nothing was changed.",
                           "Name the index differently, or use CREATE INDEX IF NOT EXISTS.");
  f.sqlstate = "42P07";
  return f;
}

}  // namespace

RuleResult create_index(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.concurrently || op.only_parent || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  const bool taken = op.index_name_holder == IndexNameHolder::ValidIndex ||
                     op.index_name_holder == IndexNameHolder::Other;
  if (taken && !op.if_not_exists) return name_taken(op);
  if (op.table.partitioned && !op.nested_partitions && op.index_tail_at >= 0) {
    // IF NOT EXISTS of an index that exists: PostgreSQL skips it after a moment's lock.
    if (taken) return std::nullopt;
    return rewrite_or_refuse(
        ctx, "create-index",
        "CREATE INDEX on partitioned table " + op.table.name + " would block writes to every "
            "partition",
        lock_detail(op, op.lock, "on every partition for the whole build") +
            " CONCURRENTLY is not supported on a partitioned table itself." + leftovers_note(op),
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
  std::vector<Step> steps;
  if (op.index_name_holder == IndexNameHolder::InvalidLeftover)
    steps.push_back(drop_leftover(op.index_qualified_name, ""));
  Step step;
  step.sql = insert_at(op.statement_sql, op.concurrently_at,
                       op.index_named ? " CONCURRENTLY" : " CONCURRENTLY " + op.index_name);
  step.lock = Lock::ShareUpdateExclusive;
  step.leaves_on_failure = "an INVALID index " + op.index_name + " that every write still updates";
  step.cleanup_sql = "DROP INDEX CONCURRENTLY IF EXISTS " + op.index_qualified_name;
  step.retry_needs_cleanup = true;
  // IF NOT EXISTS of an index that exists skips it: a failure then is not its build's.
  if (taken) {
    step.leaves_on_failure.clear();
    step.retry_needs_cleanup = false;
  } else {
    step.leftover_index = op.index_qualified_name;
  }
  steps.push_back(step);
  // Deferred: nothing now; after the commit the statement itself (named), which the guard then
  // builds CONCURRENTLY, finishing or replacing what an interrupted build left.
  const Deferral deferral{
      0, {op.index_named ? op.statement_sql.str()
                         : insert_at(op.statement_sql, op.concurrently_at, " " + op.index_name)}};
  return rewrite_or_refuse(ctx, "create-index",
                           "CREATE INDEX on " + op.table.name + " would block writes",
                           lock_detail(op, op.lock, "for the whole index build") +
                               leftovers_note(op),
                           steps, &deferral);
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
                        outside_transaction_hint(ctx, step.sql + ";"));
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
  step.leftover_ccnew = true;
  step.leftover_ccnew_table = op.table.oid;  // (0 for a schema or a database)
  step.cleanup_sql = kCcnewDrops;
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
        outside_transaction_hint(ctx, "CREATE UNIQUE INDEX CONCURRENTLY ON " + op.table.name +
                                 " (<columns that identify a row>);\nREFRESH MATERIALIZED VIEW "
                                 "CONCURRENTLY " + op.table.name + ";"));
  Step step;
  step.sql = insert_at(op.statement_sql, op.concurrently_at, " CONCURRENTLY");
  step.lock = Lock::Exclusive;
  return rewrite_or_refuse(ctx, "refresh-materialized-view", problem, detail, {step});
}

}  // namespace zd::rules
