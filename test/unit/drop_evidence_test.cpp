// drop-table and drop-column judged on the record of use (Operation::usage_*), and
// zero_downtime.orm_renames = migrate (Decision::start_migration).
#include <gtest/gtest.h>

#include "core/decide.hpp"

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

Stmt drop(OpKind kind) {
  Stmt s;
  Operation op;
  op.kind = kind;
  op.table.name = "public.events";
  op.table.exists = true;
  op.table.size_known = true;
  op.table.size_bytes = 1LL << 20;
  op.table.estimated_rows = 1000;
  op.lock = Lock::AccessExclusive;
  op.column = kind == OpKind::DropColumn ? "legacy" : "";
  op.statement_sql = kind == OpKind::DropColumn ? "ALTER TABLE events DROP COLUMN legacy"
                                                : "DROP TABLE events";
  op.usage_quiet_s = 900;
  op.usage_track_call = "SELECT zd.zd_track('public.events')";
  op.usage_show_call = "SELECT * FROM zd.zd_usage('public.events')";
  s.facts.sql = op.statement_sql;
  s.ops.push_back(op);
  return s;
}

const Finding &refused(const Decision &d) {
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  return d.findings.at(0);
}

TEST(DropEvidence, NoRecordRefusesAndSaysRecordingStarted) {
  for (OpKind kind : {OpKind::DropTable, OpKind::DropColumn}) {
    Stmt s = drop(kind);
    s.ops[0].usage_track_started = true;
    const Decision d_f = decide(s.get(), Policy{});
  const Finding &f = refused(d_f);
    EXPECT_NE(f.detail.find("had no record of the use"), std::string::npos) << f.detail;
    EXPECT_NE(f.detail.find("it records it from now on"), std::string::npos) << f.detail;
    EXPECT_NE(f.hint.find("once its use has been recorded for 900 s"), std::string::npos) << f.hint;
    EXPECT_NE(f.hint.find("Or first deploy code"), std::string::npos) << f.hint;
  }
}

TEST(DropEvidence, UsedWithinTheQuietPeriodIsRefusedNamingTheApplications) {
  Stmt s = drop(OpKind::DropTable);
  Operation &op = s.ops[0];
  op.usage_tracked = true;
  op.usage_tracked_s = 5000;
  op.usage_idle_s = 12;
  op.usage_last_used = "2026-01-01 10:00:00+00";
  op.usage_applications = "'reporting' (at 2026-01-01 10:00:00+00)";
  const Decision d_f = decide(s.get(), Policy{});
  const Finding &f = refused(d_f);
  EXPECT_EQ(f.rule, "drop-table");
  EXPECT_NE(f.detail.find("last used 12 s ago"), std::string::npos) << f.detail;
  EXPECT_NE(f.detail.find("'reporting'"), std::string::npos) << f.detail;
  EXPECT_NE(f.hint.find("once nothing has used it for 900 s"), std::string::npos) << f.hint;
}

TEST(DropEvidence, UnusedForTheQuietPeriodAndRecordedThatLongRuns) {
  for (OpKind kind : {OpKind::DropTable, OpKind::DropColumn}) {
    Stmt s = drop(kind);
    Operation &op = s.ops[0];
    op.usage_tracked = true;
    op.usage_tracked_s = 900;
    EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
    op.usage_idle_s = 900;  // used, but not within the quiet period
    EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
    op.usage_idle_s = 899;
    EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Refuse);
  }
}

TEST(DropEvidence, RecordedForLessThanTheQuietPeriodWaitsUnlessSinceCreation) {
  Stmt s = drop(OpKind::DropTable);
  Operation &op = s.ops[0];
  op.usage_tracked = true;
  op.usage_tracked_s = 30;
  op.usage_tracked_since = "2026-01-01 10:00:00+00";
  const Decision d_f = decide(s.get(), Policy{});
  const Finding &f = refused(d_f);
  EXPECT_NE(f.detail.find("No application has used it since"), std::string::npos) << f.detail;
  op.usage_since_creation = true;  // nothing of its life unseen: a fresh install
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
}

TEST(DropEvidence, QuietPeriodZeroOrNoRecordKeepsTheRefusalAsItWas) {
  Stmt s = drop(OpKind::DropTable);
  Operation &op = s.ops[0];
  op.usage_tracked = true;
  op.usage_tracked_s = 5000;
  op.usage_quiet_s = 0;
  const Decision d_f = decide(s.get(), Policy{});
  const Finding &f = refused(d_f);
  EXPECT_EQ(f.hint.rfind("First deploy code that no longer uses the table", 0), 0u) << f.hint;
  op.usage_quiet_s = 900;
  op.usage_unavailable = "recording it needs the library in shared_preload_libraries";
  const Decision d_g = decide(s.get(), Policy{});
  const Finding &g = refused(d_g);
  EXPECT_NE(g.detail.find("shared_preload_libraries"), std::string::npos) << g.detail;
}

TEST(DropEvidence, AnEmptyTableIsNotJudged) {
  Stmt s = drop(OpKind::DropTable);
  s.ops[0].table.empty = true;
  EXPECT_EQ(decide(s.get(), Policy{}).verdict, Verdict::Allow);
}

Stmt column_change(OpKind kind) {
  Stmt s = drop(OpKind::DropColumn);
  Operation &op = s.ops[0];
  op.kind = kind;
  op.column = "name";
  op.new_name = "full_name";
  op.column_type = "integer";
  op.new_column_type = "bigint";
  op.type_change_rewrites = true;
  op.statement_sql = "ALTER TABLE events ...";
  return s;
}

Policy orm_migrate() {
  Policy p;
  p.orm_renames_migrate = true;
  p.small_table_bytes = 0;
  return p;
}

TEST(OrmRenames, OffRefusesAsBefore) {
  for (OpKind kind : {OpKind::RenameColumn, OpKind::AlterColumnType}) {
    Policy p;
    p.small_table_bytes = 0;
    const Decision d = decide(column_change(kind).get(), p);
    EXPECT_EQ(d.verdict, Verdict::Refuse);
    EXPECT_FALSE(d.start_migration);
  }
}

TEST(OrmRenames, MigrateStartsAMigrationInsteadOfTheRefusal) {
  for (OpKind kind : {OpKind::RenameColumn, OpKind::AlterColumnType}) {
    const Decision d = decide(column_change(kind).get(), orm_migrate());
    EXPECT_EQ(d.verdict, Verdict::Allow);
    EXPECT_TRUE(d.findings.empty());
    EXPECT_TRUE(d.start_migration);
  }
}

TEST(OrmRenames, NotAMigrationWhenAllowedOwnedEmptyNotRewritingOrOneOfSeveral) {
  Stmt allowed = column_change(OpKind::RenameColumn);
  const Text rule[] = {"rename-column"};
  allowed.facts.allowed_here = {rule, 1};
  Decision d = decide(allowed.get(), orm_migrate());
  EXPECT_EQ(d.verdict, Verdict::Allow);
  EXPECT_FALSE(d.start_migration);

  Stmt owned = column_change(OpKind::RenameColumn);
  owned.ops[0].migration = 4;
  owned.ops[0].migration_phase = "expanded";
  EXPECT_EQ(decide(owned.get(), orm_migrate()).findings.at(0).rule, "migration-owned");

  Stmt empty = column_change(OpKind::RenameColumn);
  empty.ops[0].table.empty = true;
  d = decide(empty.get(), orm_migrate());
  EXPECT_EQ(d.verdict, Verdict::Allow);
  EXPECT_FALSE(d.start_migration);

  Stmt relabel = column_change(OpKind::AlterColumnType);
  relabel.ops[0].type_change_rewrites = false;
  EXPECT_FALSE(decide(relabel.get(), orm_migrate()).start_migration);

  Stmt two = column_change(OpKind::AlterColumnType);
  two.ops.push_back(two.ops[0]);
  two.ops[1].column = "age";
  d = decide(two.get(), orm_migrate());
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_FALSE(d.start_migration);

  Policy off = orm_migrate();
  off.mode = Mode::Off;
  EXPECT_FALSE(decide(column_change(OpKind::RenameColumn).get(), off).start_migration);
}

}  // namespace
}  // namespace zd
