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

}  // namespace
}  // namespace zd
