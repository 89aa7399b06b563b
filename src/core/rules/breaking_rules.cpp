// drop-column, rename-column, rename-table, drop-table: no long lock, but the code still
// running breaks at once (and a drop loses data).  They fire on tables holding rows even when
// small: a DBA wants these caught on every table the application uses.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {
namespace {

// For the primary message (all some tools print): how to allow it once no code needs it.
std::string allow_note(const std::string &rule) {
  return " (once no running code needs it: /* zero_downtime: allow " + rule +
         " */ before the statement)";
}

std::string allow_once(const std::string &rule, const std::string &sql) {
  return allow_for_statement(rule, sql) + "\n" + kWhoMayAllow;
}

// "DROP TABLE t" or, when another object's DROP takes it along, "DROP SCHEMA ... CASCADE (it
// drops t)".
std::string what_drops(const Operation &op, const std::string &direct, const std::string &what) {
  if (!op.through_other_object) return direct;
  return op.command.str() + " (it drops " + what + ")";
}

}  // namespace

RuleResult drop_column(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_breaking_rules(op.table)) return std::nullopt;
  // A column an expand/contract migration owns: migration-owned decides (its contract).
  if (op.migration != 0) return std::nullopt;
  return make_refusal(
      "drop-column",
      "drop-column: " +
          what_drops(op, "DROP COLUMN " + op.column.str() + " on " + op.table.name.str(),
                     "column " + op.column.str() + " of " + op.table.name.str()) +
          " breaks the code that still uses it" + allow_note("drop-column"),
      "Every deployed query that names " + op.table.name + "." + op.column +
          " fails as soon as this commits, and its data is gone; " + describe_table(op.table) +
          " holds rows.",
      "First deploy code that no longer reads or writes the column; then:\n" + allow_once("drop-column", op.statement_sql));
}

RuleResult rename_column(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_breaking_rules(op.table)) return std::nullopt;
  const std::string alter = "ALTER TABLE " + op.table.name + " ";
  return make_refusal(
      "rename-column",
      "rename-column: RENAME COLUMN " + op.column + " on " + op.table.name +
          " breaks the code that still uses it" + allow_note("rename-column"),
      "Every deployed query that names " + op.table.name + "." + op.column +
          " fails as soon as this commits; " + describe_table(op.table) + " holds rows.",
      "Rename by expand/contract (old and new code both work until the contract):\n" +
          expand_contract_calls("zd_expand_rename_column('" +
                                    quote_literal_text(op.table.name.str()) + "', " +
                                    name_literal(op.column.str()) + ", " +
                                    name_literal(op.new_name.str()) + ")",
                                "uses " + op.new_name.str()) +
          "\nOr, once no running code uses the old name:\n" +
          allow_once("rename-column", op.statement_sql));
}

RuleResult rename_table(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_breaking_rules(op.table)) return std::nullopt;
  return make_refusal(
      "rename-table",
      "rename-table: RENAME of " + op.table.name + " to " + op.new_name +
          " breaks the code that still uses the old name" + allow_note("rename-table"),
      "Every deployed query that names " + op.table.name + " fails as soon as this commits; " +
          describe_table(op.table) + " holds rows.",
      "Rename it and leave a view under the old name in the same transaction (a migration's, "
      "or BEGIN ... COMMIT in psql), so old and new code both work; drop the view once nothing "
      "uses it:\n" + allow_for_statement("rename-table", op.statement_sql) + "\nCREATE VIEW " +
          op.table.name + " AS SELECT * FROM " + op.new_name + ";\n" + kWhoMayAllow);
}

RuleResult drop_table(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_breaking_rules(op.table)) return std::nullopt;
  return make_refusal(
      "drop-table",
      "drop-table: " +
          what_drops(op, "DROP TABLE " + op.table.name.str(), "table " + op.table.name.str()) +
          " breaks the code that still uses it" + allow_note("drop-table"),
      "Every deployed query that names " + op.table.name + " fails as soon as this commits, "
          "and its rows are gone; " + describe_table(op.table) + " holds rows.",
      "First deploy code that no longer uses the table; then:\n" + allow_once("drop-table", op.statement_sql));
}

}  // namespace zd::rules
