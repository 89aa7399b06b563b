// whole-table-dml: an UPDATE or DELETE of many rows of a live table, in a transaction that has
// changed the schema (a migration's).  Every row it touches stays locked until commit, and the
// DDL's locks with them (ACCESS EXCLUSIVE from an ALTER TABLE: the whole table).  The batched
// form commits every few thousand rows.  The application's own DML, in transactions without
// DDL, is never judged.
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

#include <cstdio>

namespace zd::rules {

namespace {
// An UPDATE or DELETE expected to change fewer rows than zd_backfill's default batch is a batch.
constexpr double kBatchRows = 10000;
}  // namespace

RuleResult whole_table_dml(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  if (op.dml_rows < kBatchRows || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  char rows[32];
  std::snprintf(rows, sizeof rows, "%.0f", op.dml_rows);
  const std::string what = op.dml_delete ? "DELETE" : "UPDATE";
  const std::string message =
      "whole-table-dml: " + what + (op.dml_full_scan ? " reading all ~" : " of ~") + rows +
      " rows of " + op.table.name.str() + " in a transaction that changed the schema";
  const std::string detail =
      std::string(op.dml_delete ? "A " : "An ") + what + " locks every row it changes until its transaction commits, and in a "
      "migration's transaction the DDL's locks stay as long: the application waits on those "
      "rows (and, after an ALTER TABLE, on the whole table) for the whole statement and the rest "
      "of the migration. " + describe_table(op.table) + ".";
  std::string hint = "Commit the schema change first; then ";
  if (op.dml_delete) {
    hint += "delete in batches, each committed (autocommit; repeat until it deletes 0 rows):\n"
            "DELETE FROM " + op.table.name.str() + " WHERE ctid = ANY (ARRAY(SELECT ctid FROM " +
            op.table.name.str() + (op.dml_where_clause.empty()
                                       ? std::string()
                                       : " WHERE " + op.dml_where_clause.str()) +
            " LIMIT 10000));";
  } else if (!op.dml_set_clause.empty()) {
    const std::string where =
        op.dml_where_clause.empty() ? std::string("<a condition false once a row is done>")
                                    : op.dml_where_clause.str();
    hint += "fill it in batches, each committed, outside the migration's transaction:\n"
            "CALL zd_backfill(relation => '" + quote_literal_text(op.table.name) +
            "', set_clause => '" + quote_literal_text(op.dml_set_clause) +
            "', where_clause => '" + quote_literal_text(where) + "');";
  } else {
    hint += "run it in batches of a few thousand rows, each committed.";
  }
  return make_refusal("whole-table-dml", message, detail, hint);
}

}  // namespace zd::rules
