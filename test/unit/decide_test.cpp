// Unit tests of the decide layer: facts in, decision out, no server.
#include <gtest/gtest.h>

#include "core/decide.hpp"
#include "core/rules/common.hpp"

namespace zd {
namespace {

constexpr int64_t kGiB = 1024LL * 1024 * 1024;

// Facts point at their operations; a test keeps them alive in a vector.
struct Stmt {
  StatementFacts facts;
  std::vector<Operation> ops;
  const StatementFacts &get() {
    facts.ops = {ops.data(), ops.size()};
    return facts;
  }
};

TableFacts big_table(const char *name = "public.orders") {
  TableFacts t;
  t.name = name;
  t.exists = true;
  t.size_known = true;
  t.size_bytes = 2 * kGiB;
  t.estimated_rows = 30000000;
  return t;
}

Stmt create_index_stmt(TableFacts table, TxContext tx = TxContext::Autocommit) {
  Stmt s;
  s.facts.tx = tx;
  Operation op;
  op.kind = OpKind::CreateIndex;
  op.table = std::move(table);
  op.lock = Lock::Share;
  op.command = "CREATE INDEX";
  op.statement_sql = "CREATE INDEX orders_a_idx ON orders (a)";
  op.concurrently_at = 12;  // after "CREATE INDEX"
  op.index_name = "orders_a_idx";
  s.facts.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

TEST(CreateIndex, RewrittenToConcurrentlyInAutocommit) {
  Decision d = decide(create_index_stmt(big_table()).get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].sql, "CREATE INDEX CONCURRENTLY orders_a_idx ON orders (a)");
  EXPECT_EQ(d.findings[0].rule, "create-index");
  EXPECT_EQ(d.cap_lock, Lock::Share);
}

TEST(CreateIndex, UnnamedIndexGetsItsChosenName) {
  Stmt s = create_index_stmt(big_table());
  s.ops[0].statement_sql = "CREATE INDEX ON orders (a)";
  s.ops[0].index_named = false;
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  EXPECT_EQ(d.steps[0].sql, "CREATE INDEX CONCURRENTLY orders_a_idx ON orders (a)");
}

TEST(CreateIndex, RefusedInsideTransactionBlockWithClientHints) {
  Decision d = decide(create_index_stmt(big_table(), TxContext::TransactionBlock).get(), Policy{});
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
    EXPECT_EQ(decide(create_index_stmt(t).get(), Policy{}).verdict, Verdict::Allow);
  // The small table still gets its lock capped; new and temporary tables need no cap.
  EXPECT_EQ(decide(create_index_stmt(small).get(), Policy{}).cap_lock, Lock::Share);
  EXPECT_EQ(decide(create_index_stmt(fresh).get(), Policy{}).cap_lock, Lock::None);
  EXPECT_EQ(decide(create_index_stmt(temp).get(), Policy{}).cap_lock, Lock::None);
}

TEST(CreateIndex, SmallTableSizeZeroMeansNoTableIsSmall) {
  TableFacts small = big_table();
  small.size_bytes = 8192;
  Policy p;
  p.small_table_bytes = 0;
  EXPECT_EQ(decide(create_index_stmt(small).get(), p).verdict, Verdict::Rewrite);
}

TEST(Modes, WarnKeepsTheFindingAndOffDecidesNothing) {
  Policy warn;
  warn.mode = Mode::Warn;
  Decision d = decide(create_index_stmt(big_table()).get(), warn);
  EXPECT_EQ(d.verdict, Verdict::Warn);
  EXPECT_EQ(d.findings.size(), 1u);
  Policy off;
  off.mode = Mode::Off;
  Decision o = decide(create_index_stmt(big_table()).get(), off);
  EXPECT_EQ(o.verdict, Verdict::Allow);
  EXPECT_EQ(o.cap_lock, Lock::None);
}

TEST(Modes, AllowListSilencesOneRule) {
  Policy p;
  p.allowed_rules = {"create-index"};
  Decision d = decide(create_index_stmt(big_table()).get(), p);
  EXPECT_EQ(d.verdict, Verdict::Allow);
  EXPECT_EQ(d.cap_lock, Lock::Share);  // still capped
}

Stmt set_not_null_stmt() {
  Stmt s;
  Operation op;
  op.kind = OpKind::SetNotNull;
  op.table = big_table();
  op.lock = Lock::AccessExclusive;
  op.command = "ALTER TABLE ... SET NOT NULL";
  op.column = "customer_id";
  op.constraint_name = "orders_customer_id_not_null";
  op.statement_sql = "ALTER TABLE orders ALTER customer_id SET NOT NULL";
  s.facts.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

TEST(SetNotNull, FourStepsEachInItsOwnTransaction) {
  Decision d = decide(set_not_null_stmt().get(), Policy{});
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
            "ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_customer_id_not_null");
}

// PostgreSQL 18+: the column's own NOT NULL constraint, NOT VALID then validated; no helper.
TEST(SetNotNull, OnPostgres18TheNativeNotValidConstraint) {
  Stmt s = set_not_null_stmt();
  s.facts.server_version_num = 180006;
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 2u);
  EXPECT_EQ(d.steps[0].sql,
            "ALTER TABLE public.orders ADD CONSTRAINT orders_customer_id_not_null NOT NULL "
            "customer_id NOT VALID");
  EXPECT_EQ(d.steps[1].sql,
            "ALTER TABLE public.orders VALIDATE CONSTRAINT orders_customer_id_not_null");
  EXPECT_EQ(d.steps[1].lock, Lock::ShareUpdateExclusive);
  // An earlier run left it NOT VALID: validating is all that is left.
  s.ops[0].native_not_null = true;
  s.ops[0].helper_state = HelperState::NotValid;
  d = decide(s.get(), Policy{});
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].sql,
            "ALTER TABLE public.orders VALIDATE CONSTRAINT orders_customer_id_not_null");
  // 15 keeps the helper CHECK.
  s = set_not_null_stmt();
  s.facts.server_version_num = 150018;
  EXPECT_EQ(decide(s.get(), Policy{}).steps.size(), 4u);
}

TEST(SetNotNull, AllowedWhenAValidCheckExists) {
  Stmt s = set_not_null_stmt();
  s.ops[0].has_valid_not_null_check = true;
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
}

TEST(FailureReport, SaysWhatIsLeftAndHowToFinishOrUndo) {
  Decision d = decide(set_not_null_stmt().get(), Policy{});
  FailureReport r = describe_failed_rewrite("set-not-null", d.steps, 1);
  EXPECT_NE(r.detail.find("step 2 failed"), std::string::npos);
  EXPECT_NE(r.detail.find("Committed before it: the helper constraint "
                          "orders_customer_id_not_null (NOT VALID)."),
            std::string::npos);
  EXPECT_NE(r.detail.find("The failed step left nothing behind."), std::string::npos);
  // The NOT VALID constraint is progress: finishing validates it, it does not drop it.
  EXPECT_NE(r.hint.find("then run outside a transaction block:\nALTER TABLE public.orders "
                        "VALIDATE"),
            std::string::npos);
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
  EXPECT_NE(r.detail.find("The failed step left nothing behind"), std::string::npos);
  EXPECT_EQ(r.hint.find("To undo"), std::string::npos);
}

TEST(AlterTable, SeveralSubcommandsCannotBeRewritten) {
  Stmt s = set_not_null_stmt();
  Operation other;
  other.kind = OpKind::OtherLocking;
  other.table = big_table();
  other.lock = Lock::AccessExclusive;
  s.ops.push_back(other);
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_NE(d.findings[0].detail.find("several changes"), std::string::npos);
}

// A table a foreign key references is locked too (the lock cap covers it) but is not one of
// the statement's changes: the ADD FOREIGN KEY alone is still rewritten.
TEST(AlterTable, AReferencedTableIsNotAChange) {
  Stmt s = set_not_null_stmt();
  Operation referenced;
  referenced.kind = OpKind::OtherLocking;
  referenced.table = big_table();
  referenced.lock = Lock::ShareRowExclusive;
  referenced.further_lock = true;
  s.ops.push_back(referenced);
  Decision d = decide(s.get(), Policy{});
  EXPECT_EQ(d.verdict, Verdict::Rewrite);
}

TEST(FailureReport, AFailedConcurrentBuildIsCleanedUpBeforeTheRetry) {
  Step build;
  build.sql = "CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)";
  build.leaves_on_failure = "an INVALID index i";
  build.cleanup_sql = "DROP INDEX CONCURRENTLY IF EXISTS public.i";
  build.retry_needs_cleanup = true;
  FailureReport r = describe_failed_rewrite("create-index", {build}, 0);
  EXPECT_NE(r.hint.find("then run outside a transaction block:\nDROP INDEX CONCURRENTLY IF "
                        "EXISTS public.i;\nCREATE UNIQUE INDEX CONCURRENTLY i ON t (a);"),
            std::string::npos);
  EXPECT_NE(r.hint.find("To undo instead:\nDROP INDEX CONCURRENTLY IF EXISTS public.i;"),
            std::string::npos);
}

// A build that failed before creating anything (the catalog shows no INVALID index after it):
// the report claims nothing, and neither hint drops anything.
TEST(FailureReport, NothingLeftWhenTheCatalogShowsNoLeftover) {
  Step build;
  build.sql = "CREATE INDEX CONCURRENTLY i ON t (a)";
  build.leaves_on_failure = "an INVALID index i";
  build.cleanup_sql = "DROP INDEX CONCURRENTLY IF EXISTS public.i";
  build.retry_needs_cleanup = true;
  build.leftover_index = "public.i";
  FailureReport r = describe_failed_rewrite("create-index", {build}, 0, false);
  EXPECT_NE(r.detail.find("The failed step left nothing behind."), std::string::npos);
  EXPECT_EQ(r.hint.find("DROP INDEX"), std::string::npos);
  EXPECT_EQ(r.hint.find("To undo"), std::string::npos);
}

TEST(CreateIndex, AValidIndexOfThatNameIsPostgresOwnErrorNeverADrop) {
  Stmt s = create_index_stmt(big_table());
  s.ops[0].index_name_holder = IndexNameHolder::ValidIndex;
  s.ops[0].index_bare_name = "orders_a_idx";
  s.ops[0].index_qualified_name = "public.orders_a_idx";
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_EQ(d.findings[0].sqlstate, "42P07");
  EXPECT_EQ(d.findings[0].message, "relation \"orders_a_idx\" already exists");
  EXPECT_EQ(d.findings[0].hint.find("DROP"), std::string::npos);
  // IF NOT EXISTS: PostgreSQL's skip, and a failure then claims no leftover.
  s.ops[0].if_not_exists = true;
  d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_FALSE(d.steps[0].retry_needs_cleanup);
  EXPECT_TRUE(d.steps[0].leaves_on_failure.empty());
}

TEST(CreateIndex, AnInvalidLeftoverIsDroppedOnlyWhileInvalidThenBuilt) {
  Stmt s = create_index_stmt(big_table());
  s.ops[0].index_name_holder = IndexNameHolder::InvalidLeftover;
  s.ops[0].index_qualified_name = "public.orders_a_idx";
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 2u);
  EXPECT_EQ(d.steps[0].sql, "DROP INDEX CONCURRENTLY public.orders_a_idx");
  EXPECT_EQ(d.steps[0].only_if_invalid_index, "public.orders_a_idx");
  EXPECT_EQ(d.steps[1].leftover_index, "public.orders_a_idx");
  EXPECT_NE(d.findings[0].detail.find("An earlier run left the INVALID index"), std::string::npos);
}

TEST(SetNotNull, ARerunFinishesWithTheHelperAnEarlierRunLeft) {
  Stmt s = set_not_null_stmt();
  s.ops[0].helper_state = HelperState::NotValid;
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Rewrite);
  ASSERT_EQ(d.steps.size(), 3u);
  EXPECT_EQ(d.steps[0].sql,
            "ALTER TABLE public.orders VALIDATE CONSTRAINT orders_customer_id_not_null");
  s.ops[0].helper_state = HelperState::Validated;
  s.ops[0].has_valid_not_null_check = true;
  d = decide(s.get(), Policy{});
  ASSERT_EQ(d.steps.size(), 2u);
  EXPECT_EQ(d.steps[0].sql, "ALTER TABLE public.orders ALTER COLUMN customer_id SET NOT NULL");
  s.ops[0].column_not_null = true;
  d = decide(s.get(), Policy{});
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].sql,
            "ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_customer_id_not_null");
  // In a transaction block the statement is a no-op: allowed, not refused.
  s.facts.tx = TxContext::TransactionBlock;
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
}

Stmt add_primary_key_stmt(bool nullable) {
  Stmt s;
  s.facts.tx = TxContext::TransactionBlock;
  s.facts.deferral_available = true;
  Operation op;
  op.kind = OpKind::AddPrimaryKey;
  op.table = big_table();
  op.lock = Lock::AccessExclusive;
  op.command = "ALTER TABLE ... ADD PRIMARY KEY";
  op.statement_sql = "ALTER TABLE orders ADD PRIMARY KEY (id)";
  op.constraint_at = 23;  // "PRIMARY KEY (id)"
  op.not_valid_at = 39;  // its end
  op.constraint_name = "orders_pkey";
  op.index_name = "orders_pkey";
  op.index_qualified_name = "public.orders_pkey";
  op.not_null_helper = "orders_pkey_not_null";
  static const Text keys[] = {"id"};
  op.key_columns = {keys, 1};
  if (nullable) op.nullable_key_columns = {keys, 1};
  s.facts.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

// In a migration's transaction (defer_in_transaction): the unique index after the commit,
// then the constraint USING it; a nullable key's helper CHECK NOT VALID now, NOT NULL before
// the build; a failure for good removes the helper and the index.
TEST(AddPrimaryKey, DeferredInATransactionBlock) {
  Decision d = decide(add_primary_key_stmt(false).get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Defer);
  EXPECT_TRUE(d.steps.empty());
  ASSERT_EQ(d.deferred_sql.size(), 2u);
  EXPECT_EQ(d.deferred_sql[0], "CREATE UNIQUE INDEX orders_pkey ON public.orders (id)");
  EXPECT_EQ(d.deferred_sql[1],
            "ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_pkey");
  EXPECT_EQ(d.deferred_undo, "DROP INDEX CONCURRENTLY IF EXISTS public.orders_pkey");
  EXPECT_NE(d.findings[0].detail.find("duplicates are not refused"), std::string::npos);

  d = decide(add_primary_key_stmt(true).get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Defer);
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].sql, "ALTER TABLE public.orders ADD CONSTRAINT orders_pkey_not_null "
                            "CHECK (id IS NOT NULL) NOT VALID");
  ASSERT_EQ(d.deferred_sql.size(), 5u);
  EXPECT_EQ(d.deferred_sql[0],
            "ALTER TABLE public.orders VALIDATE CONSTRAINT orders_pkey_not_null");
  EXPECT_EQ(d.deferred_sql[1], "ALTER TABLE public.orders ALTER COLUMN id SET NOT NULL");
  EXPECT_EQ(d.deferred_sql[3], "CREATE UNIQUE INDEX orders_pkey ON public.orders (id)");
  EXPECT_EQ(d.deferred_undo,
            "ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_pkey_not_null;\n"
            "DROP INDEX CONCURRENTLY IF EXISTS public.orders_pkey");
}

// An ALTER TABLE of several changes in a migration's transaction, deferral on: each change a
// statement of its own when none of them alone is refused; else the whole is refused.
TEST(AlterTable, SeveralChangesEachDeferredOnItsOwn) {
  Stmt s = set_not_null_stmt();
  s.facts.tx = TxContext::TransactionBlock;
  s.facts.deferral_available = true;
  Operation add;
  add.kind = OpKind::AddColumn;
  add.table = big_table();
  add.lock = Lock::AccessExclusive;
  add.column = "city";
  s.ops.insert(s.ops.begin(), add);
  static const Text split[] = {"ALTER TABLE orders ADD COLUMN city text",
                               "ALTER TABLE orders ALTER customer_id SET NOT NULL"};
  s.facts.split_statements = {split, 2};
  Decision d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::DeferEach);
  EXPECT_NE(d.findings[0].detail.find(split[0].str()), std::string::npos);

  s.facts.deferral_available = false;
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Refuse);
  s.facts.deferral_available = true;
  s.ops[0].kind = OpKind::AlterColumnType;  // rewrites: cannot be deferred
  s.ops[0].type_change_rewrites = true;
  d = decide(s.get(), Policy{});
  ASSERT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_NE(d.findings[0].hint.find("separate statements"), std::string::npos);
}

TEST(Locks, ConflictTableMatchesPostgres) {
  EXPECT_TRUE(locks_conflict(Lock::AccessShare, Lock::AccessExclusive));
  EXPECT_FALSE(locks_conflict(Lock::AccessShare, Lock::Share));
  EXPECT_TRUE(locks_conflict(Lock::RowExclusive, Lock::Share));
  EXPECT_FALSE(locks_conflict(Lock::RowExclusive, Lock::ShareUpdateExclusive));
  EXPECT_TRUE(locks_conflict(Lock::ShareUpdateExclusive, Lock::ShareUpdateExclusive));
  EXPECT_FALSE(locks_conflict(Lock::Share, Lock::Share));
  EXPECT_TRUE(locks_conflict(Lock::RowShare, Lock::Exclusive));
  for (int held = 1; held <= 8; ++held)
    for (int requested = 1; requested <= 8; ++requested)
      EXPECT_EQ(locks_conflict(Lock(held), Lock(requested)),
                locks_conflict(Lock(requested), Lock(held)))
          << "PostgreSQL's conflict table is symmetric";
}

TEST(Breaking, DropTableRefusedEvenWhenSmallButNotWhenEmpty) {
  Stmt s;
  Operation op;
  op.kind = OpKind::DropTable;
  op.table = big_table();
  op.table.size_bytes = 8192;
  op.lock = Lock::AccessExclusive;
  op.statement_sql = "DROP TABLE orders";
  s.ops.push_back(op);
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Refuse);
  s.ops[0].table.empty = true;
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
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
