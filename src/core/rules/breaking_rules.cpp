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

// The server's record of use (Operation::usage_*): not in use when it has been recorded long
// enough (the quiet period, or since the table's creation) and no application used it within
// the quiet period.
bool unused_on_evidence(const Operation &op) {
  if (op.usage_quiet_s <= 0 || !op.usage_tracked || !op.usage_unavailable.empty()) return false;
  if (op.usage_idle_s >= 0 && op.usage_idle_s < op.usage_quiet_s) return false;
  return op.usage_since_creation || op.usage_tracked_s >= op.usage_quiet_s;
}

// What the record shows, for the DETAIL (after the table's facts).
std::string evidence_detail(const Operation &op, const std::string &what) {
  const std::string quiet = std::to_string(op.usage_quiet_s) + " s";
  if (op.usage_quiet_s <= 0) return "";  // (zero_downtime.contract_quiet_period = 0: not consulted)
  if (!op.usage_unavailable.empty())
    return " The server keeps no record of its use: " + op.usage_unavailable.str() + ".";
  if (!op.usage_tracked)
    return " The server had no record of the use of " + what +
           (op.usage_track_started ? "; it records it from now on." : ".");
  if (op.usage_idle_s >= 0 && op.usage_idle_s < op.usage_quiet_s)
    return " It was last used " + std::to_string(op.usage_idle_s) + " s ago (" +
           op.usage_last_used.str() + "), within zero_downtime.contract_quiet_period (" + quiet +
           "), by application_name " + op.usage_applications.str() + ".";
  return " No application has used it since the server started recording its use at " +
         op.usage_tracked_since.str() + ", " + std::to_string(op.usage_tracked_s) +
         " s ago; zero_downtime.contract_quiet_period is " + quiet + ".";
}

// How the record can let the statement through, for the HINT (before the allow comment).
std::string evidence_hint(const Operation &op, const std::string &what) {
  const std::string quiet = std::to_string(op.usage_quiet_s) + " s";
  if (op.usage_quiet_s <= 0 || !op.usage_unavailable.empty()) return "";
  if (!op.usage_tracked && !op.usage_track_started)
    return "To have the server record its use: " + op.usage_track_call.str() + ";\n";
  if (op.usage_idle_s >= 0 && op.usage_idle_s < op.usage_quiet_s)
    return "Deploy code that no longer uses " + what + "; once nothing has used it for " +
           quiet + ", this statement runs as written.\n";
  std::string hint = "If nothing uses " + what + ", this statement runs as written once its use "
                     "has been recorded for " + quiet + " (zero_downtime.contract_quiet_period) "
                     "with none: run it again then (" + op.usage_show_call.str() +
                     " shows the record).\n";
  if (!op.usage_tracked)  // (recording started only now: how it could have started earlier)
    hint += "To record ahead of a drop: " + op.usage_track_call.str() +
            "; or, for a fresh install's migrations, zero_downtime.track_new_tables = on "
            "records each table from its creation.\n";
  return hint;
}

// "First " alone, or after the evidence's way through: "...\nOr first ".
std::string or_first(const std::string &evidence_hint) {
  return evidence_hint.empty() ? "First " : evidence_hint + "Or first ";
}

}  // namespace

RuleResult drop_column(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_breaking_rules(op.table)) return std::nullopt;
  // A column an expand/contract migration owns: migration-owned decides (its contract).
  if (op.migration != 0) return std::nullopt;
  if (unused_on_evidence(op)) return std::nullopt;
  const std::string what = "column " + op.column.str() + " of " + op.table.name.str();
  return make_refusal(
      "drop-column",
      "drop-column: " +
          what_drops(op, "DROP COLUMN " + op.column.str() + " on " + op.table.name.str(), what) +
          " breaks the code that still uses it" + allow_note("drop-column"),
      "Every deployed query that names " + op.table.name + "." + op.column +
          " fails as soon as this commits, and its data is gone; " + describe_table(op.table) +
          " holds rows." + evidence_detail(op, what),
      or_first(evidence_hint(op, what)) +
          "deploy code that no longer reads or writes the column; then:\n" +
          allow_once("drop-column", op.statement_sql));
}

RuleResult rename_column(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (exempt_from_breaking_rules(op.table)) return std::nullopt;
  if (becomes_migration(ctx)) return std::nullopt;  // started by the PostgreSQL side instead
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
  if (unused_on_evidence(op)) return std::nullopt;
  const std::string what = "table " + op.table.name.str();
  return make_refusal(
      "drop-table",
      "drop-table: " + what_drops(op, "DROP TABLE " + op.table.name.str(), what) +
          " breaks the code that still uses it" + allow_note("drop-table"),
      "Every deployed query that names " + op.table.name + " fails as soon as this commits, "
          "and its rows are gone; " + describe_table(op.table) + " holds rows." +
          evidence_detail(op, what),
      or_first(evidence_hint(op, what)) + "deploy code that no longer uses the table; then:\n" +
          allow_once("drop-table", op.statement_sql));
}

}  // namespace zd::rules
