// The guard and expand/contract migrations (migration-owned): DDL on a column a migration owns
// is refused with the call legal now, except the DROP of its old column once it may contract;
// the refusals of rename-column and alter-column-type name the zd_* calls.
#include <gtest/gtest.h>

#include "core/decide.hpp"
#include "core/zd_error.hpp"

namespace zd {
namespace {

struct Stmt {
  StatementFacts facts;
  std::vector<Operation> ops;
  const StatementFacts &get() {
    facts.ops = {ops.data(), ops.size()};
    return facts;
  }
};

Stmt column_stmt(OpKind kind, const char *column, int64_t migration, const char *phase,
                 bool old_column) {
  Stmt s;
  Operation op;
  op.kind = kind;
  op.table.name = "public.users";
  op.table.exists = true;
  op.table.size_known = true;
  op.table.size_bytes = 1LL << 30;
  op.table.estimated_rows = 1000000;
  op.lock = Lock::AccessExclusive;
  op.column = column;
  op.new_name = "\"Email Address\"";
  op.column_type = "integer";
  op.new_column_type = "bigint";
  op.type_change_rewrites = true;
  op.migration = migration;
  op.migration_phase = phase;
  op.migration_old_column = old_column;
  op.statement_sql = "ALTER TABLE users ...";
  s.facts.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

TEST(MigrationOwned, DropOfTheOldColumnRunsWhenItMayContract) {
  const Decision d = decide(column_stmt(OpKind::DropColumn, "email", 3, "ready", true).get(),
                            Policy{});
  EXPECT_EQ(d.verdict, Verdict::Allow);
}

TEST(MigrationOwned, DropBeforeReadyIsRefusedWithTheLegalCall) {
  const Decision d = decide(column_stmt(OpKind::DropColumn, "email", 3, "expanded", true).get(),
                            Policy{});
  ASSERT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_EQ(d.findings[0].rule, "migration-owned");
  EXPECT_EQ(d.findings[0].sqlstate, sqlstate::kMigrationOwned);
  EXPECT_NE(d.findings[0].hint.find("SELECT zd_migrate(3) first"), std::string::npos)
      << d.findings[0].hint;
}

TEST(MigrationOwned, TheNewColumnAndOtherChangesAreRefused) {
  for (OpKind kind : {OpKind::DropColumn, OpKind::RenameColumn, OpKind::AlterColumnType}) {
    const Decision d =
        decide(column_stmt(kind, "email_address", 3, "ready", false).get(), Policy{});
    ASSERT_EQ(d.verdict, Verdict::Refuse);
    EXPECT_EQ(d.findings[0].rule, "migration-owned");
    EXPECT_NE(d.findings[0].hint.find("SELECT zd_abort(3)"), std::string::npos);
  }
  const Decision rename =
      decide(column_stmt(OpKind::RenameColumn, "email", 3, "ready", true).get(), Policy{});
  EXPECT_EQ(rename.findings[0].rule, "migration-owned");
}

TEST(MigrationOwned, UnownedColumnsNameTheExpandCalls) {
  const Decision rename =
      decide(column_stmt(OpKind::RenameColumn, "\"E\"\"mail\"", 0, "", false).get(), Policy{});
  ASSERT_EQ(rename.findings[0].rule, "rename-column");
  EXPECT_NE(rename.findings[0].hint.find(
                "SELECT zd_expand_rename_column('public.users', 'E\"mail', 'Email Address')"),
            std::string::npos)
      << rename.findings[0].hint;
  const Decision retype =
      decide(column_stmt(OpKind::AlterColumnType, "total", 0, "", false).get(), Policy{});
  ASSERT_EQ(retype.findings[0].rule, "alter-column-type");
  EXPECT_NE(retype.findings[0].hint.find("SELECT zd_expand_change_type('public.users', 'total', "
                                         "'bigint', 'total::bigint', 'total::integer')"),
            std::string::npos)
      << retype.findings[0].hint;
}

}  // namespace
}  // namespace zd
