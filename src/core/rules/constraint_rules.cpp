// add-check, add-foreign-key, set-not-null, add-unique, add-primary-key, add-exclude:
// constraints whose validation scans the table under a strong lock.  The safe forms add the
// constraint without scanning (NOT VALID, or an index built CONCURRENTLY) and validate under
// SHARE UPDATE EXCLUSIVE, which blocks no reads or writes.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {
namespace {

std::string alter(const Operation &op) { return "ALTER TABLE " + op.table.name + " "; }

std::string join(const std::vector<std::string> &items, const std::string &separator) {
  std::string text;
  for (const std::string &item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

// Steps that make `columns` NOT NULL without a long lock: a NOT VALID check, validated under
// SHARE UPDATE EXCLUSIVE, lets SET NOT NULL skip its scan; then the helper check goes.
std::vector<Step> not_null_steps(const Operation &op, const std::string &helper,
                                 const std::vector<std::string> &columns) {
  std::vector<std::string> conditions, set_clauses, drop_clauses;
  for (const std::string &c : columns) {
    conditions.push_back(c + " IS NOT NULL");
    set_clauses.push_back("ALTER COLUMN " + c + " SET NOT NULL");
    drop_clauses.push_back("ALTER COLUMN " + c + " DROP NOT NULL");
  }
  const std::string drop_helper = alter(op) + "DROP CONSTRAINT IF EXISTS " + helper;
  Step add;
  add.sql = alter(op) + "ADD CONSTRAINT " + helper + " CHECK (" + join(conditions, " AND ") +
            ") NOT VALID";
  add.lock = Lock::AccessExclusive;
  add.effect = "the helper constraint " + helper + " (NOT VALID)";
  add.undo_sql = drop_helper;
  Step validate;
  validate.sql = alter(op) + "VALIDATE CONSTRAINT " + helper;
  validate.lock = Lock::ShareUpdateExclusive;
  validate.effect = "the helper constraint " + helper + " validated";
  Step set;
  set.sql = alter(op) + join(set_clauses, ", ");
  set.lock = Lock::AccessExclusive;
  set.effect = join(columns, ", ") + " NOT NULL";
  set.undo_sql = alter(op) + join(drop_clauses, ", ");
  set.leaves_on_failure = "the validated helper constraint " + helper;
  set.cleanup_sql = drop_helper;
  Step drop;
  // (IF EXISTS: run by hand, the SET NOT NULL before it is judged on its own, and the guard
  // then finishes with the helper it finds, dropping it.)
  drop.sql = drop_helper;
  drop.lock = Lock::AccessExclusive;
  drop.effect = "the helper constraint " + helper + " dropped";
  drop.leaves_on_failure = "the helper constraint " + helper + " (redundant now, harmless)";
  drop.cleanup_sql = drop_helper;
  return {add, validate, set, drop};
}

// PostgreSQL 18+: NOT NULL is a constraint that can be added NOT VALID (new rows checked at
// once) and validated under SHARE UPDATE EXCLUSIVE, the column's own: no helper CHECK.
constexpr int kNativeNotNullVersion = 180000;

std::vector<Step> native_not_null_steps(const Operation &op) {
  const std::string drop = alter(op) + "DROP CONSTRAINT IF EXISTS " + op.constraint_name;
  Step add;
  add.sql = alter(op) + "ADD CONSTRAINT " + op.constraint_name + " NOT NULL " + op.column +
            " NOT VALID";
  add.lock = Lock::AccessExclusive;
  add.effect = "the NOT NULL constraint " + op.constraint_name +
               " NOT VALID (enforced for new rows, not yet checked on existing ones)";
  add.undo_sql = drop;
  Step validate;
  validate.sql = alter(op) + "VALIDATE CONSTRAINT " + op.constraint_name;
  validate.lock = Lock::ShareUpdateExclusive;
  validate.effect = op.column.str() + " NOT NULL";
  return {add, validate};
}

// A PRIMARY KEY's helper CHECK for its nullable columns (gather names it; quoted).
std::string pk_not_null_helper(const Operation &op) {
  const std::string named = op.not_null_helper.str();
  return named.empty() ? op.constraint_name.str() + "_not_null" : named;
}

// ADD UNIQUE / ADD PRIMARY KEY deferred (in a migration's transaction): nothing of the index
// now.  After the commit the plain CREATE UNIQUE INDEX, which the guard builds CONCURRENTLY
// (replacing what an interrupted build left), then the constraint taking it.  A PRIMARY KEY's
// nullable columns (`not_null`: their four steps) get the helper CHECK NOT VALID now, so that
// new rows are checked at once; validated, SET NOT NULL and dropped after the commit, before
// the build.  Should a step fail for good, the worker removes what the deferral made: the
// helper (NOT VALID, it refuses updates of the rows it does not hold for) and the index (an
// INVALID unique index still refuses new duplicates; the migration's statement is run again).
Deferral unique_deferral(const Operation &op, const std::vector<Step> &not_null,
                         const std::string &attach_sql) {
  Deferral deferral;
  deferral.now_steps = not_null.empty() ? 0 : 1;
  for (size_t i = 1; i < not_null.size(); ++i) deferral.later.push_back(not_null[i].sql);
  deferral.later.push_back("CREATE UNIQUE INDEX " + op.index_name.str() + " ON " +
                           op.table.name.str() + " (" + join(to_strings(op.key_columns), ", ") +
                           ")");
  deferral.later.push_back(attach_sql);
  if (!not_null.empty()) deferral.undo_on_failure = not_null.front().undo_sql + ";\n";
  deferral.undo_on_failure += "DROP INDEX CONCURRENTLY IF EXISTS " + op.index_qualified_name.str();
  deferral.consequence =
      "Until the worker has built it, " + op.table.name.str() + " has no " +
      (op.kind == OpKind::AddPrimaryKey ? "primary key" : "unique constraint") + " on (" +
      join(to_strings(op.key_columns), ", ") + "): duplicates are not refused, and ON CONFLICT, "
      "foreign keys and USING INDEX cannot use it.";
  return deferral;
}

}  // namespace

RuleResult add_check_or_foreign_key(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.not_valid || exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  const bool fk = op.kind == OpKind::AddForeignKey;
  const std::string rule = fk ? "add-foreign-key" : "add-check";
  // The statement itself, with every other change it makes, the constraint NOT VALID (and
  // named, so that VALIDATE can name it).  Insert at the later offset first so the earlier one
  // stays valid.
  std::string add_sql = insert_at(op.statement_sql, op.not_valid_at, " NOT VALID");
  if (op.constraint_name_at >= 0)
    add_sql = insert_at(add_sql, op.constraint_name_at, "CONSTRAINT " + op.constraint_name + " ");
  Step add;
  add.sql = add_sql;
  add.lock = op.lock;
  add.effect = "constraint " + op.constraint_name +
               " NOT VALID (enforced for new rows, not yet checked on existing ones)";
  add.undo_sql = alter(op) + "DROP CONSTRAINT IF EXISTS " + op.constraint_name;
  Step validate;
  validate.sql = alter(op) + "VALIDATE CONSTRAINT " + op.constraint_name;
  validate.lock = Lock::ShareUpdateExclusive;
  const std::string what = fk ? "ADD FOREIGN KEY" : "ADD CHECK";
  const std::string problem =
      what + " on " + op.table.name + " would scan it under " + lock_with_article(op.lock);
  const std::string detail = lock_detail(
      op, op.lock,
      fk ? "on both tables while it checks every existing row" : "while it checks every existing row");
  if (!op.constraint_rewritable)
    return make_refusal(rule, rule + ": " + problem,
                        detail + " PostgreSQL 15 cannot add a NOT VALID foreign key to a "
                                 "partitioned table.",
                        "Add it NOT VALID to each partition and VALIDATE it there, outside a "
                        "transaction block, then add it to the partitioned table (the check "
                        "then finds every partition already validated).");
  // Deferred: the constraint NOT VALID now (new rows checked at once), VALIDATE after commit.
  const Deferral deferral{1, {validate.sql}};
  return rewrite_or_refuse(ctx, rule, problem, detail, {add, validate}, &deferral);
}

RuleResult set_not_null(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  // (An earlier run's helper is finished whatever the table's size, where it can be:
  // otherwise it would stay.)
  if (exempt_from_lock_rules(op.table, ctx.policy) &&
      (op.helper_state == HelperState::None || !ctx.can_rewrite()))
    return std::nullopt;
  const std::string column = op.table.name + "." + op.column;
  // In a transaction block the column being NOT NULL already makes the statement a no-op.
  const bool finish_run = op.helper_state != HelperState::None &&
                          !(op.column_not_null && !ctx.can_rewrite());
  if (finish_run && op.native_not_null) {
    // 18+: an earlier run left the column's NOT NULL constraint NOT VALID: validate it.
    return rewrite_or_refuse(
        ctx, "set-not-null",
        "SET NOT NULL on " + column + " would scan the table under an ACCESS EXCLUSIVE lock",
        lock_detail(op, op.lock, "while it checks every row for NULLs") +
            " Its NOT NULL constraint " + op.constraint_name +
            " is there NOT VALID (an earlier run left it): this run validates it.",
        {native_not_null_steps(op)[1]});
  }
  if (finish_run) {
    // An earlier run (interrupted, or failed) left its helper constraint: finish that run from
    // where it stopped,
    // so that nothing of it is left.
    std::vector<Step> steps = not_null_steps(op, op.constraint_name, {op.column.str()});
    const size_t from = op.column_not_null                          ? 3
                        : op.helper_state == HelperState::Validated ? 2
                                                                    : 1;
    steps.erase(steps.begin(), steps.begin() + from);
    const std::string state = op.helper_state == HelperState::Validated ? "validated" : "NOT VALID";
    return rewrite_or_refuse(
        ctx, "set-not-null",
        op.column_not_null
            ? "SET NOT NULL on " + column + " is done, but an earlier run left its helper "
                  "constraint " + op.constraint_name.str()
            : "SET NOT NULL on " + column + " would scan the table under an ACCESS EXCLUSIVE lock",
        (op.column_not_null ? std::string()
                            : lock_detail(op, op.lock, "while it checks every row for NULLs") + " ") +
            "An earlier run left its helper constraint " + op.constraint_name + " (" +
            state + (op.column_not_null ? ", and the column is NOT NULL already" : "") +
            "): this run finishes it" + (op.column_not_null ? ", dropping the helper." : "."),
        steps);
  }
  // With a valid CHECK (col IS NOT NULL), SET NOT NULL is a catalog change without a scan.
  if (op.has_valid_not_null_check) return std::nullopt;
  if (ctx.stmt.server_version_num >= kNativeNotNullVersion) {
    // Deferred: the constraint NOT VALID now, VALIDATE after the commit (failing, dropped:
    // left NOT VALID it would refuse every update of a row with a NULL there).
    std::vector<Step> steps = native_not_null_steps(op);
    const Deferral deferral{1, {steps[1].sql},
                            alter(op) + "DROP CONSTRAINT IF EXISTS " + op.constraint_name};
    return rewrite_or_refuse(
        ctx, "set-not-null",
        "SET NOT NULL on " + column + " would scan the table under an ACCESS EXCLUSIVE lock",
        lock_detail(op, op.lock, "while it checks every row for NULLs"), std::move(steps),
        &deferral);
  }
  // Deferred: the helper CHECK NOT VALID now (new rows checked at once); after the commit the
  // statement again, which then finds the helper and finishes the run (validate, set, drop).
  // Failing (a NULL found), the worker drops the helper: left NOT VALID it would refuse every
  // update of a row with a NULL there.
  const Deferral deferral{1, {op.statement_sql.str()},
                          alter(op) + "DROP CONSTRAINT IF EXISTS " + op.constraint_name};
  return rewrite_or_refuse(
      ctx, "set-not-null",
      "SET NOT NULL on " + column + " would scan the table under an ACCESS EXCLUSIVE lock",
      lock_detail(op, op.lock, "while it checks every row for NULLs"),
      not_null_steps(op, op.constraint_name, {op.column.str()}), &deferral);
}

RuleResult add_unique_or_primary_key(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  const bool pk = op.kind == OpKind::AddPrimaryKey;
  const std::string rule = pk ? "add-primary-key" : "add-unique";
  if (op.primary_key_using_index) {
    // The index exists; only making its columns NOT NULL scans: do that the safe way first.
    std::vector<Step> steps = not_null_steps(op, pk_not_null_helper(op),
                                             to_strings(op.nullable_key_columns));
    Step attach;
    attach.sql = op.statement_sql;
    attach.lock = Lock::AccessExclusive;
    steps.push_back(attach);
    return rewrite_or_refuse(
        ctx, rule,
        "ADD PRIMARY KEY USING INDEX on " + op.table.name.str() + " would scan it under an "
            "ACCESS EXCLUSIVE lock",
        lock_detail(op, op.lock, "while it checks every row of the nullable key columns for NULLs"),
        steps);
  }
  const std::string problem = std::string(pk ? "ADD PRIMARY KEY" : "ADD UNIQUE") + " on " +
                              op.table.name + " would build its index under an ACCESS "
                              "EXCLUSIVE lock";
  const std::string detail = lock_detail(op, op.lock, "for the whole index build");
  std::vector<Step> steps;
  const bool nullable_keys = pk && !op.nullable_key_columns.empty();
  if (nullable_keys)
    steps = not_null_steps(op, pk_not_null_helper(op), to_strings(op.nullable_key_columns));
  Step build;
  build.sql = "CREATE UNIQUE INDEX CONCURRENTLY " + op.index_name + " ON " + op.table.name +
              " (" + join(to_strings(op.key_columns), ", ") + ")";
  build.lock = Lock::ShareUpdateExclusive;
  build.effect = "the unique index " + op.index_name;
  build.leaves_on_failure =
      "an INVALID index " + op.index_name + " that every write still updates";
  build.cleanup_sql = "DROP INDEX CONCURRENTLY IF EXISTS " + op.index_qualified_name;
  build.retry_needs_cleanup = true;
  build.leftover_index = op.index_qualified_name;
  build.undo_sql = build.cleanup_sql;
  // The statement itself, with every other change it makes (a DROP CONSTRAINT of the key it
  // replaces, say), the constraint taking the index built above.
  Step attach;
  attach.sql = replace_range(op.statement_sql, op.constraint_at, op.not_valid_at,
                             "CONSTRAINT " + op.constraint_name.str() +
                                 (pk ? " PRIMARY KEY" : " UNIQUE") + " USING INDEX " +
                                 op.index_name.str());
  attach.lock = Lock::AccessExclusive;
  steps.push_back(build);
  steps.push_back(attach);
  if (!op.constraint_rewritable)
    return make_refusal(rule, rule + ": " + problem,
                        detail + " The constraint has options (INCLUDE, WITH, USING INDEX "
                                 "TABLESPACE, NULLS NOT DISTINCT, DEFERRABLE or an existing "
                                 "index) that zero_downtime does not carry over by itself.",
                        outside_transaction_hint(ctx, steps_sql(steps)) +
                            "\nAdd the constraint's options to the CREATE UNIQUE INDEX and ADD "
                            "CONSTRAINT statements above.");
  const Deferral deferral = unique_deferral(
      op, nullable_keys ? std::vector<Step>(steps.begin(), steps.begin() + 4) : std::vector<Step>{},
      attach.sql);
  return rewrite_or_refuse(ctx, rule, problem, detail, steps, &deferral);
}

RuleResult add_exclude(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  return make_refusal(
      "add-exclude",
      "add-exclude: ADD EXCLUDE on " + op.table.name + " would build its index under an ACCESS "
          "EXCLUSIVE lock",
      lock_detail(op, op.lock, "for the whole index build") +
          " Exclusion constraints have no CONCURRENTLY form.",
      "Add it in a maintenance window, allowing this rule for this statement:\n" +
          allow_for_statement("add-exclude", op.statement_sql) + "\n" + kWhoMayAllow);
}

// ALTER DOMAIN ... ADD CONSTRAINT (validated), VALIDATE CONSTRAINT or SET NOT NULL checks every
// row of every column of the domain, holding SHARE on each table using it (writes wait).
// PostgreSQL 15 has no weaker lock for the validation, so the safe form is NOT VALID (new
// values are checked at once) and the validation in a maintenance window.
RuleResult alter_domain_check(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  const std::string message = "alter-domain-check: " + op.command.str() + " would check every row "
                              "of " + op.table.name.str() + " under a SHARE lock";
  const std::string detail = lock_detail(op, Lock::Share, "while it checks every value of the "
                                                          "domain in it");
  std::string hint;
  if (op.not_valid_at >= 0)
    hint = "Add it NOT VALID: new and updated values are checked at once, existing rows are not "
           "scanned:\n" + insert_at(op.statement_sql, op.not_valid_at, " NOT VALID") + ";\n";
  hint += "Validate existing values in a maintenance window (on PostgreSQL 15 VALIDATE CONSTRAINT "
          "also holds SHARE on every table using the domain), allowing this rule for that "
          "statement:\n" +
          allow_for_statement("alter-domain-check",
                              op.not_valid_at >= 0 ? "ALTER DOMAIN " + op.domain_name.str() +
                                                         " VALIDATE CONSTRAINT " +
                                                         op.constraint_name.str()
                                                   : op.statement_sql.str()) +
          "\n" + kWhoMayAllow;
  return make_refusal("alter-domain-check", message, detail, hint);
}

}  // namespace zd::rules
