// The phases of an expand/contract migration: every call in every phase.
#include <gtest/gtest.h>

#include "core/migration_phase.hpp"

namespace zd {
namespace {

const MigrationPhase kPhases[] = {MigrationPhase::Expanded, MigrationPhase::Migrating,
                                  MigrationPhase::Ready, MigrationPhase::Complete,
                                  MigrationPhase::Aborted};
const MigrationCall kCalls[] = {MigrationCall::Migrate, MigrationCall::MarkReady,
                                MigrationCall::Contract, MigrationCall::Abort};

TEST(MigrationPhase, TheHappyPath) {
  EXPECT_EQ(transition(MigrationPhase::Expanded, MigrationCall::Migrate, 1).to,
            MigrationPhase::Migrating);
  // An interrupted or failed migrate resumes.
  EXPECT_EQ(transition(MigrationPhase::Migrating, MigrationCall::Migrate, 1).to,
            MigrationPhase::Migrating);
  EXPECT_EQ(transition(MigrationPhase::Migrating, MigrationCall::MarkReady, 1).to,
            MigrationPhase::Ready);
  EXPECT_EQ(transition(MigrationPhase::Ready, MigrationCall::Contract, 1).to,
            MigrationPhase::Complete);
}

TEST(MigrationPhase, ContractOnlyOnceReady) {
  const Transition e = transition(MigrationPhase::Expanded, MigrationCall::Contract, 7);
  EXPECT_FALSE(e.legal);
  EXPECT_NE(e.why.find("SELECT zd_migrate(7) first"), std::string::npos) << e.why;
  const Transition m = transition(MigrationPhase::Migrating, MigrationCall::Contract, 7);
  EXPECT_FALSE(m.legal);
  EXPECT_NE(m.why.find("CALL zd_deferred_wait()"), std::string::npos) << m.why;
  EXPECT_NE(m.why.find("SELECT zd_migrate(7) resumes"), std::string::npos) << m.why;
}

TEST(MigrationPhase, ReadyOnlyFromMigrating) {
  EXPECT_FALSE(transition(MigrationPhase::Expanded, MigrationCall::MarkReady, 1).legal);
  EXPECT_TRUE(transition(MigrationPhase::Ready, MigrationCall::MarkReady, 1).legal);
  EXPECT_FALSE(transition(MigrationPhase::Aborted, MigrationCall::MarkReady, 1).legal);
}

TEST(MigrationPhase, AbortUntilContract) {
  for (MigrationPhase p :
       {MigrationPhase::Expanded, MigrationPhase::Migrating, MigrationPhase::Ready})
    EXPECT_EQ(transition(p, MigrationCall::Abort, 1).to, MigrationPhase::Aborted);
  EXPECT_FALSE(transition(MigrationPhase::Complete, MigrationCall::Abort, 1).legal);
  EXPECT_FALSE(transition(MigrationPhase::Aborted, MigrationCall::Abort, 1).legal);
}

TEST(MigrationPhase, EveryRefusalSaysWhy) {
  for (MigrationPhase p : kPhases)
    for (MigrationCall c : kCalls) {
      const Transition t = transition(p, c, 3);
      if (!t.legal) {
        EXPECT_FALSE(t.why.empty()) << phase_name(p) << " " << call_name(c);
      } else {  // a legal call never moves a finished migration
        EXPECT_TRUE(phase_is_active(p)) << phase_name(p) << " " << call_name(c);
      }
    }
}

TEST(MigrationPhase, NextStepIsALegalCall) {
  EXPECT_EQ(next_step(MigrationPhase::Expanded, 4).sql, "SELECT zd_migrate(4)");
  EXPECT_EQ(next_step(MigrationPhase::Ready, 4).sql, "SELECT zd_contract(4)");
  EXPECT_TRUE(transition(MigrationPhase::Expanded, MigrationCall::Migrate, 4).legal);
  EXPECT_TRUE(transition(MigrationPhase::Ready, MigrationCall::Contract, 4).legal);
  EXPECT_EQ(next_step(MigrationPhase::Complete, 4).sql, "");
  EXPECT_EQ(next_step(MigrationPhase::Aborted, 4).sql, "");
}

TEST(MigrationPhase, NamesRoundTrip) {
  for (MigrationPhase p : kPhases) EXPECT_EQ(phase_from_name(phase_name(p)), p);
  EXPECT_FALSE(phase_from_name("nope").has_value());
  EXPECT_TRUE(phase_is_active(MigrationPhase::Ready));
  EXPECT_FALSE(phase_is_active(MigrationPhase::Complete));
}

TEST(MigrationKind, NamesRoundTripAndEachHasItsExpandCall) {
  for (MigrationKind k : {MigrationKind::RenameColumn, MigrationKind::ChangeType,
                          MigrationKind::SetNotNull, MigrationKind::AddColumn}) {
    EXPECT_EQ(kind_from_name(kind_name(k)), k);
    EXPECT_EQ(std::string(expand_call_name(k)).rfind("zd_expand_", 0), 0u);
  }
  EXPECT_FALSE(kind_from_name("drop table").has_value());
  EXPECT_EQ(std::string(expand_call_name(MigrationKind::SetNotNull)), "zd_expand_set_not_null");
  EXPECT_EQ(std::string(expand_call_name(MigrationKind::AddColumn)), "zd_expand_add_column");
}

TEST(MigrationKind, OnlyRenameAndChangeTypeRetireAnOldColumn) {
  EXPECT_TRUE(kind_retires_old_column(MigrationKind::RenameColumn));
  EXPECT_TRUE(kind_retires_old_column(MigrationKind::ChangeType));
  EXPECT_FALSE(kind_retires_old_column(MigrationKind::SetNotNull));
  EXPECT_FALSE(kind_retires_old_column(MigrationKind::AddColumn));
}

// The new kinds go through the same phases: every call in every phase is legal or not as for
// a rename, and moves to the same phase.
TEST(MigrationKind, SamePhasesForEveryKind) {
  for (MigrationKind k : {MigrationKind::SetNotNull, MigrationKind::AddColumn})
    for (MigrationPhase p : kPhases)
      for (MigrationCall c : kCalls) {
        const Transition a = transition(p, c, 3, k);
        const Transition b = transition(p, c, 3);
        EXPECT_EQ(a.legal, b.legal) << kind_name(k) << " " << phase_name(p) << " " << call_name(c);
        if (a.legal) {
          EXPECT_EQ(a.to, b.to);
        } else {
          EXPECT_FALSE(a.why.empty());
        }
      }
}

TEST(MigrationKind, AnEarlyContractSaysWhatTheKindWaitsFor) {
  const Transition n = transition(MigrationPhase::Expanded, MigrationCall::Contract, 4,
                                  MigrationKind::SetNotNull);
  EXPECT_FALSE(n.legal);
  EXPECT_NE(n.why.find("NOT NULL check is not validated"), std::string::npos) << n.why;
  EXPECT_NE(n.why.find("SELECT zd_migrate(4) first"), std::string::npos) << n.why;
  EXPECT_NE(n.why.find("SELECT zd_abort(4)"), std::string::npos) << n.why;
  const Transition a = transition(MigrationPhase::Expanded, MigrationCall::Contract, 4,
                                  MigrationKind::AddColumn);
  EXPECT_NE(a.why.find("existing rows"), std::string::npos) << a.why;
}

TEST(MigrationKind, NextStepSaysWhatTheKindsContractDoes) {
  const NextStep n = next_step(MigrationPhase::Ready, 5, MigrationKind::SetNotNull);
  EXPECT_EQ(n.sql, "SELECT zd_contract(5)");
  EXPECT_NE(n.note.find("no scan"), std::string::npos) << n.note;
  const NextStep a = next_step(MigrationPhase::Ready, 5, MigrationKind::AddColumn);
  EXPECT_NE(a.note.find("fill trigger"), std::string::npos) << a.note;
  EXPECT_EQ(next_step(MigrationPhase::Expanded, 5, MigrationKind::AddColumn).sql,
            "SELECT zd_migrate(5)");
  EXPECT_EQ(next_step(MigrationPhase::Complete, 5, MigrationKind::SetNotNull).sql, "");
}

}  // namespace
}  // namespace zd
