// Unit tests of the decide layer: facts in, decision out, no server.
#include <gtest/gtest.h>

#include "core/decide.hpp"
#include "core/rules/common.hpp"

namespace zd {
namespace {

constexpr int64_t kGiB = 1024LL * 1024 * 1024;

TableFacts big_table(const std::string &name = "public.orders") {
  TableFacts t;
  t.name = name;
  t.exists = true;
  t.size_known = true;
  t.size_bytes = 2 * kGiB;
  t.estimated_rows = 30000000;
  return t;
}

StatementFacts create_index_stmt(TableFacts table, TxContext tx = TxContext::Autocommit) {
  StatementFacts s;
  s.tx = tx;
  Operation op;
  op.kind = OpKind::CreateIndex;
  op.table = std::move(table);
  op.lock = Lock::Share;
  op.command = "CREATE INDEX";
  op.statement_sql = "CREATE INDEX orders_a_idx ON orders (a)";
  op.concurrently_at = 12;  // after "CREATE INDEX"
  op.index_name = "orders_a_idx";
  s.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

TEST(CreateIndex, RewrittenToConcurrentlyInAutocommit) {
  Decision d = decide(create_index_stmt(big_table()), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].sql, "CREATE INDEX CONCURRENTLY orders_a_idx ON orders (a)");
  EXPECT_EQ(d.findings[0].rule, "create-index");
  EXPECT_EQ(d.cap_lock, Lock::Share);
}

TEST(CreateIndex, UnnamedIndexGetsItsChosenName) {
  StatementFacts s = create_index_stmt(big_table());
  s.ops[0].statement_sql = "CREATE INDEX ON orders (a)";
  s.ops[0].index_named = false;
  Decision d = decide(s, Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  EXPECT_EQ(d.steps[0].sql, "CREATE INDEX CONCURRENTLY orders_a_idx ON orders (a)");
}

TEST(CreateIndex, RefusedInsideTransactionBlockWithClientHints) {
  Decision d = decide(create_index_stmt(big_table(), TxContext::TransactionBlock), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Refuse);
  const Finding &f = d.findings[0];
  EXPECT_EQ(f.sqlstate, "ZD001");
  EXPECT_NE(f.message.find("create-index"), std::string::npos);
  EXPECT_NE(f.message.find("public.orders"), std::string::npos);
  EXPECT_NE(f.detail.find("SHARE lock"), std::string::npos);
  EXPECT_NE(f.detail.find("2048 MB"), std::string::npos);
  EXPECT_NE(f.detail.find("transaction block"), std::string::npos);
  EXPECT_NE(f.hint.find("CREATE INDEX CONCURRENTLY orders_a_idx ON orders (a);"),
            std::string::npos);
  EXPECT_NE(f.hint.find("exports.config = { transaction: false }"), std::string::npos);
  EXPECT_NE(f.hint.find("Prisma"), std::string::npos);
  EXPECT_NE(f.hint.find("Drizzle"), std::string::npos);
}

TEST(CreateIndex, AllowedOnSmallNewAndTemporaryTables) {
  TableFacts small = big_table();
  small.size_bytes = 8192;
  TableFacts fresh = big_table();
  fresh.created_in_transaction = true;
  TableFacts temp = big_table();
  temp.temporary = true;
  for (const TableFacts &t : {small, fresh, temp})
    EXPECT_EQ(decide(create_index_stmt(t), Policy{}).verdict, Verdict::Allow);
  // The small table still gets its lock capped; new and temporary tables need no cap.
  EXPECT_EQ(decide(create_index_stmt(small), Policy{}).cap_lock, Lock::Share);
  EXPECT_EQ(decide(create_index_stmt(fresh), Policy{}).cap_lock, Lock::None);
  EXPECT_EQ(decide(create_index_stmt(temp), Policy{}).cap_lock, Lock::None);
}

TEST(CreateIndex, SmallTableSizeZeroMeansNoTableIsSmall) {
  TableFacts small = big_table();
  small.size_bytes = 8192;
  Policy p;
  p.small_table_bytes = 0;
  EXPECT_EQ(decide(create_index_stmt(small), p).verdict, Verdict::Rewrite);
}

TEST(Modes, WarnKeepsTheFindingAndOffDecidesNothing) {
  Policy warn;
  warn.mode = Mode::Warn;
  Decision d = decide(create_index_stmt(big_table()), warn);
  EXPECT_EQ(d.verdict, Verdict::Warn);
  EXPECT_EQ(d.findings.size(), 1u);
  Policy off;
  off.mode = Mode::Off;
  Decision o = decide(create_index_stmt(big_table()), off);
  EXPECT_EQ(o.verdict, Verdict::Allow);
  EXPECT_EQ(o.cap_lock, Lock::None);
}

TEST(Modes, AllowListSilencesOneRule) {
  Policy p;
  p.allowed_rules = {"create-index"};
  Decision d = decide(create_index_stmt(big_table()), p);
  EXPECT_EQ(d.verdict, Verdict::Allow);
  EXPECT_EQ(d.cap_lock, Lock::Share);  // still capped
}

StatementFacts set_not_null_stmt() {
  StatementFacts s;
  Operation op;
  op.kind = OpKind::SetNotNull;
  op.table = big_table();
  op.lock = Lock::AccessExclusive;
  op.command = "ALTER TABLE ... SET NOT NULL";
  op.column = "customer_id";
  op.constraint_name = "orders_customer_id_not_null";
  op.statement_sql = "ALTER TABLE orders ALTER customer_id SET NOT NULL";
  s.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

TEST(SetNotNull, FourStepsEachInItsOwnTransaction) {
  Decision d = decide(set_not_null_stmt(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 4u);
  EXPECT_EQ(d.steps[0].sql,
            "ALTER TABLE public.orders ADD CONSTRAINT orders_customer_id_not_null CHECK "
            "(customer_id IS NOT NULL) NOT VALID");
  EXPECT_EQ(d.steps[1].sql,
            "ALTER TABLE public.orders VALIDATE CONSTRAINT orders_customer_id_not_null");
  EXPECT_EQ(d.steps[1].lock, Lock::ShareUpdateExclusive);
  EXPECT_EQ(d.steps[2].sql, "ALTER TABLE public.orders ALTER COLUMN customer_id SET NOT NULL");
  EXPECT_EQ(d.steps[3].sql,
            "ALTER TABLE public.orders DROP CONSTRAINT orders_customer_id_not_null");
}

TEST(SetNotNull, AllowedWhenAValidCheckExists) {
  StatementFacts s = set_not_null_stmt();
  s.ops[0].has_valid_not_null_check = true;
  EXPECT_EQ(decide(s, Policy{}).verdict, Verdict::Allow);
}

TEST(FailureReport, SaysWhatIsLeftAndHowToFinishOrUndo) {
  Decision d = decide(set_not_null_stmt(), Policy{});
  FailureReport r = describe_failed_rewrite("set-not-null", d.steps, 1);
  EXPECT_NE(r.detail.find("step 2 failed"), std::string::npos);
  EXPECT_NE(r.detail.find("Steps 1 to 1 had committed"), std::string::npos);
  EXPECT_NE(r.detail.find("helper constraint orders_customer_id_not_null"), std::string::npos);
  EXPECT_NE(r.hint.find("VALIDATE CONSTRAINT orders_customer_id_not_null;\nALTER TABLE "
                        "public.orders ALTER COLUMN customer_id SET NOT NULL;"),
            std::string::npos);
  EXPECT_NE(r.hint.find("To undo instead:\nALTER TABLE public.orders DROP CONSTRAINT IF EXISTS "
                        "orders_customer_id_not_null;"),
            std::string::npos);
}

TEST(FailureReport, FirstStepFailingLeavesNothingWhenItLeavesNothing) {
  Step s;
  s.sql = "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID";
  FailureReport r = describe_failed_rewrite("add-check", {s}, 0);
  EXPECT_NE(r.detail.find("Nothing is left behind"), std::string::npos);
}

TEST(AlterTable, SeveralSubcommandsCannotBeRewritten) {
  StatementFacts s = set_not_null_stmt();
  Operation other;
  other.kind = OpKind::OtherLocking;
  other.table = big_table();
  other.lock = Lock::AccessExclusive;
  s.ops.push_back(other);
  Decision d = decide(s, Policy{});
  ASSERT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_NE(d.findings[0].detail.find("split them"), std::string::npos);
}

TEST(Breaking, DropTableRefusedEvenWhenSmallButNotWhenEmpty) {
  StatementFacts s;
  Operation op;
  op.kind = OpKind::DropTable;
  op.table = big_table();
  op.table.size_bytes = 8192;
  op.lock = Lock::AccessExclusive;
  op.statement_sql = "DROP TABLE orders";
  s.ops.push_back(op);
  EXPECT_EQ(decide(s, Policy{}).verdict, Verdict::Refuse);
  s.ops[0].table.empty = true;
  EXPECT_EQ(decide(s, Policy{}).verdict, Verdict::Allow);
}

TEST(Format, BytesLikePgSizePretty) {
  EXPECT_EQ(rules::format_bytes(0), "0 bytes");
  EXPECT_EQ(rules::format_bytes(10239), "10239 bytes");
  EXPECT_EQ(rules::format_bytes(10240), "10 kB");
  EXPECT_EQ(rules::format_bytes(2 * kGiB), "2048 MB");
  EXPECT_EQ(rules::format_bytes(20 * kGiB), "20 GB");
}

TEST(Format, InsertAtRejectsPositionsOutsideTheText) {
  EXPECT_THROW(rules::insert_at("abc", 4, "x"), std::exception);
  EXPECT_THROW(rules::insert_at("abc", -1, "x"), std::exception);
  EXPECT_EQ(rules::insert_at("abc", 3, "x"), "abcx");
}

}  // namespace
}  // namespace zd
