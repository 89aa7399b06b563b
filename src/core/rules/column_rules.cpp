// add-column-volatile-default, add-column-generated-stored, add-column-not-null,
// alter-column-type, set-expression: column changes that rewrite or scan the whole table.  Their safe form is
// expand/contract: add a plain column (instant), fill it in batches with zd_backfill, switch.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {
namespace {

// The CALL that fills `column` with `value` (SQL, as is), its arguments quoted as literals.
// CALL zd_backfill(...) filling `column` with `value` where it is NULL.
std::string backfill_statement(const Operation &op, const std::string &column,
                               const std::string &value) {
  return "CALL zd_backfill(relation => '" + quote_literal_text(op.table.name) +
         "', set_clause => '" + quote_literal_text(column + " = " + value) +
         "', where_clause => '" + quote_literal_text(column + " IS NULL") + "')";
}

std::string backfill_call(const Operation &op, const std::string &column,
                          const std::string &value) {
  return backfill_statement(op, column, value) + ";  -- needs CREATE EXTENSION zero_downtime";
}

}  // namespace

namespace {

// ADD COLUMN with a constraint of its own: the column is instant, its constraint is not (a
// CHECK or a foreign key checks every row, a UNIQUE builds its index, all under the ADD's
// ACCESS EXCLUSIVE lock).  The safe form adds the column, then the constraint the safe way.
RuleResult inline_constraint(const RuleContext &ctx) {
  using Inline = Operation::InlineConstraint;
  const Operation &op = ctx.op;
  if (op.inline_constraint == Inline::None) return std::nullopt;
  const std::string alter = "ALTER TABLE " + op.table.name + " ";
  const std::string name = op.inline_constraint_name;
  std::string rule, what, duration, steps = op.add_column_sql.str() + ";\n";
  switch (op.inline_constraint) {
    case Inline::Unique:
      rule = "add-unique";
      what = "UNIQUE";
      duration = "for the whole index build";
      steps += "CREATE UNIQUE INDEX CONCURRENTLY " + name + " ON " + op.table.name + " (" +
               op.column.str() + ");\n" + alter + "ADD CONSTRAINT " + name + " UNIQUE USING INDEX " +
               name + ";";
      break;
    default:
      rule = op.inline_constraint == Inline::Check ? "add-check" : "add-foreign-key";
      what = op.inline_constraint == Inline::Check ? "CHECK" : "REFERENCES";
      duration = "while it checks every existing row";
      steps += alter + "ADD CONSTRAINT " + name + " " + op.inline_constraint_sql.str() +
               " NOT VALID;\n" + alter + "VALIDATE CONSTRAINT " + name + ";";
      break;
  }
  return make_refusal(rule,
                      rule + ": ADD COLUMN " + op.column.str() + " with its own " + what +
                          " would scan " + op.table.name.str() + " under an ACCESS EXCLUSIVE lock",
                      lock_detail(op, Lock::AccessExclusive, duration),
                      outside_transaction_hint(ctx, steps));
}

}  // namespace

RuleResult add_column(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  const std::string alter = "ALTER TABLE " + op.table.name + " ";
  // (DEFAULT NULL keeps a domain's default off the existing rows.)
  const std::string add_plain = alter + "ADD COLUMN " + op.column + " " + op.column_type +
                                (op.default_from_domain ? " DEFAULT NULL" : "") + ";";
  const std::string rewrite_detail =
      lock_detail(op, Lock::AccessExclusive, "while it rewrites every row");

  if (op.generated_stored)
    return make_refusal(
        "add-column-generated-stored",
        "add-column-generated-stored: ADD COLUMN " + op.column + " GENERATED ... STORED would "
            "rewrite " + op.table.name,
        rewrite_detail,
        "Add a plain column, fill new rows with a trigger, and existing rows in batches:\n" +
            add_plain + "\n-- a BEFORE INSERT OR UPDATE trigger that sets " + op.column +
            " to the generation expression\n" +
            backfill_call(op, op.column, "<the generation expression>"));

  if (op.identity || op.default_volatile || op.domain_checked) {
    const std::string what = op.identity         ? "a serial or identity column"
                             : op.domain_checked ? "a domain type with constraints"
                                                 : "a volatile default";
    const std::string why =
        op.identity         ? "Every existing row needs its own sequence value."
        : op.domain_checked ? "The domain's constraints must be checked against every row."
                            : "A volatile default must be computed for every existing row; a "
                              "constant or STABLE default would not.";
    std::string hint = "Add the column without it, set the default for new rows, then fill the "
                       "existing rows in batches:\n" + add_plain + "\n";
    if (op.domain_checked)
      hint = "Add it with the domain's base type, enforce the domain's checks as a CHECK "
             "constraint added NOT VALID and validated (zero_downtime makes ADD CHECK safe), and "
             "fill it in batches:\n" + alter + "ADD COLUMN " + op.column + " " +
             op.column_base_type + ";\n" + alter + "ADD CONSTRAINT <name> CHECK (<the domain's "
             "checks on " + op.column + ">);\n" +
             (op.default_sql.empty() ? std::string()
                                     : alter + "ALTER COLUMN " + op.column + " SET DEFAULT " +
                                           op.default_sql + ";\n") +
             backfill_call(op, op.column,
                           op.default_sql.empty() ? std::string("<value>") : op.default_sql);
    else if (op.identity)
      hint += "CREATE SEQUENCE <sequence> OWNED BY " + op.table.name + "." + op.column + ";\n" +
              alter + "ALTER COLUMN " + op.column + " SET DEFAULT nextval('<sequence>');\n" +
              backfill_call(op, op.column, "nextval('<sequence>')");
    else if (!op.default_sql.empty())
      hint += alter + "ALTER COLUMN " + op.column + " SET DEFAULT " + op.default_sql + ";\n" +
              backfill_call(op, op.column, op.default_sql);
    else
      hint += backfill_call(op, op.column, "<value>");
    // The column's NOT NULL comes back once every row has its value (zero_downtime runs SET
    // NOT NULL as a validated CHECK first, so it takes no long lock).
    if (op.not_null) hint += "\n" + alter + "ALTER COLUMN " + op.column + " SET NOT NULL;";
    // In a migration's transaction, deferred: the plain column and its default for new rows
    // now, the batched fill (and the NOT NULL) after the commit.
    if (!ctx.can_rewrite() && ctx.stmt.deferral_available && ctx.stmt.changes() == 1 &&
        !op.identity && !op.domain_checked && !op.default_sql.empty()) {
      Step add, set_default;
      add.sql = add_plain.substr(0, add_plain.size() - 1);  // (without its ';')
      add.lock = Lock::AccessExclusive;
      set_default.sql = alter + "ALTER COLUMN " + op.column + " SET DEFAULT " + op.default_sql;
      set_default.lock = Lock::AccessExclusive;
      Deferral deferral{2, {backfill_statement(op, op.column, op.default_sql)}};
      if (op.not_null)
        deferral.later.push_back(alter + "ALTER COLUMN " + op.column + " SET NOT NULL");
      return make_deferral("add-column-volatile-default",
                           "ADD COLUMN " + op.column + " with " + what + " would rewrite " +
                               op.table.name,
                           rewrite_detail + " " + why, {add, set_default}, deferral);
    }
    return make_refusal("add-column-volatile-default",
                        "add-column-volatile-default: ADD COLUMN " + op.column + " with " + what +
                            " would rewrite " + op.table.name,
                        rewrite_detail + " " + why,
                        hint);
  }

  if (op.not_null && op.default_sql.empty() && !op.table.empty)
    return make_refusal(
        "add-column-not-null",
        "add-column-not-null: ADD COLUMN " + op.column + " NOT NULL without a default on "
            "non-empty table " + op.table.name,
        lock_detail(op, Lock::AccessExclusive, "while it checks every row") +
            " The existing rows have no value, so the statement can only fail after that scan.",
        "Add it with a constant default (instant since PostgreSQL 11):\n" + alter +
            "ADD COLUMN " + op.column + " " + op.column_type + " NOT NULL DEFAULT <constant>;\n"
            "or add it nullable, backfill it with zd_backfill, then SET NOT NULL (zero_downtime "
            "makes that safe).");
  return inline_constraint(ctx);
}

namespace {

// ALTER TYPE without a rewrite: still a scan for each CHECK on the column (re-added, checked
// on every row), and an index rebuild when the collation changes.
RuleResult type_change_side_effects(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  const std::string alter = "ALTER TABLE " + op.table.name + " ";
  const std::string change = "ALTER COLUMN " + op.column.str() + " TYPE " + op.new_column_type.str();
  if (!op.rebuilt_index_names.empty()) {
    std::string names, steps;
    for (size_t i = 0; i < op.rebuilt_index_names.size(); i++) {
      names += (i ? ", " : "") + op.rebuilt_index_names[i].str();
      std::string def = op.rebuilt_index_defs[i].str();
      const size_t at = def.find("INDEX ");
      if (at != std::string::npos) def.insert(at + 6, "CONCURRENTLY ");
      steps += "\n" + def + ";";
    }
    std::string hint =
        "Change the collation by expand/contract (a new column with the new collation, kept "
        "equal by a trigger, filled with zd_backfill, indexed CONCURRENTLY, then switched to).";
    if (!op.rebuilt_constraint_index) {
      std::string drops;
      for (const Text &n : op.rebuilt_index_names) drops += "DROP INDEX CONCURRENTLY " + n.str() + ";\n";
      hint += "\nOr, if queries can do without these indexes for a while:\n" + drops +
              op.statement_sql.str() + ";" + steps;
    }
    return make_refusal("alter-column-type",
                        "alter-column-type: " + change + " would rebuild " + names +
                            " under an ACCESS EXCLUSIVE lock on " + op.table.name.str(),
                        lock_detail(op, Lock::AccessExclusive, "while it rebuilds every index on "
                                    "the column") + " The collation changes, so the indexes "
                                    "on the column are built again.",
                        hint);
  }
  if (op.rechecked_names.empty()) return std::nullopt;
  std::string names, drop, add;
  std::vector<Step> validations;
  for (size_t i = 0; i < op.rechecked_names.size(); i++) {
    const std::string name = op.rechecked_names[i].str();
    names += (i ? ", " : "") + name;
    drop += "DROP CONSTRAINT " + name + ", ";
    add += ", ADD CONSTRAINT " + name + " " + op.rechecked_defs[i].str() + " NOT VALID";
    Step validate;
    validate.sql = alter + "VALIDATE CONSTRAINT " + name;
    validate.lock = Lock::ShareUpdateExclusive;
    validate.effect = name + " validated";
    validations.push_back(validate);
  }
  Step change_step;
  change_step.sql = alter + drop + change + add;
  change_step.lock = Lock::AccessExclusive;
  change_step.effect = "the type changed, " + names + " NOT VALID";
  std::vector<Step> steps{change_step};
  steps.insert(steps.end(), validations.begin(), validations.end());
  return rewrite_or_refuse(
      ctx, "alter-column-type",
      change + " would check " + names + " on every row of " + op.table.name.str() +
          " under an ACCESS EXCLUSIVE lock",
      lock_detail(op, Lock::AccessExclusive, "while it checks every row") +
          " The type change rewrites nothing, but PostgreSQL adds the CHECK constraints on the "
          "column again and checks them.",
      steps);
}

}  // namespace

RuleResult alter_column_type(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  if (!op.type_change_rewrites) return type_change_side_effects(ctx);
  if (becomes_migration(ctx)) return std::nullopt;  // started by the PostgreSQL side instead
  return make_refusal(
      "alter-column-type",
      "alter-column-type: ALTER COLUMN " + op.column + " TYPE " + op.new_column_type +
          " would rewrite " + op.table.name,
      lock_detail(op, Lock::AccessExclusive,
                  "while it rewrites every row and rebuilds every index") +
          " The change from " + op.column_type + " to " + op.new_column_type +
          " is not binary-coercible.",
      "Change it by expand/contract (old and new code both work until the contract):\n" +
          expand_contract_calls(
              "zd_expand_change_type('" + quote_literal_text(op.table.name.str()) + "', " +
                  name_literal(op.column.str()) + ", '" +
                  quote_literal_text(op.new_column_type.str()) + "', '" +
                  quote_literal_text(op.column + "::" + op.new_column_type) + "', '" +
                  quote_literal_text(op.column + "::" + op.column_type) + "')",
              "writes the new column (named " + op.column.str() +
                  "_zd_new until the contract gives it the name " + op.column.str() + ")"));
}

// SET EXPRESSION (17+) of a stored generated column computes and writes the column anew in
// every row, a rewrite under ACCESS EXCLUSIVE (gather passes a virtual column's, 18+, as the
// lock cap's: only its catalog entry changes).
RuleResult set_expression(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_lock_rules(op.table, ctx.policy)) return std::nullopt;
  const std::string column = op.column.str() + "_new";
  return make_refusal(
      "set-expression",
      "set-expression: SET EXPRESSION of the stored generated column " + op.table.name + "." +
          op.column + " would rewrite " + op.table.name,
      lock_detail(op, Lock::AccessExclusive, "while it rewrites every row"),
      "Add a plain column for the new values, fill new rows with a trigger and existing rows "
      "in batches, then switch the application to it and drop the old column:\nALTER TABLE " +
          op.table.name + " ADD COLUMN " + column + " " + op.column_type + ";\n-- a BEFORE "
          "INSERT OR UPDATE trigger that sets " + column + " to the new expression\n" +
          backfill_call(op, column, "<the new expression>") +
          "\nOr, in a maintenance window, allow it for this statement:\n" +
          allow_for_statement("set-expression", op.statement_sql) + "\n" + kWhoMayAllow);
}

}  // namespace zd::rules
