// The phases of an expand/contract migration: every call in every phase.
#include <gtest/gtest.h>

#include "core/migration_phase.hpp"

namespace zd {
namespace {

TEST(MigrationPhase, TheHappyPath) {
  EXPECT_EQ(transition(MigrationPhase::Expanded, MigrationCall::Migrate, "m").to,
            MigrationPhase::Migrating);
  // An interrupted migrate resumes.
  EXPECT_TRUE(transition(MigrationPhase::Migrating, MigrationCall::Migrate, "m").legal);
  EXPECT_EQ(transition(MigrationPhase::Ready, MigrationCall::Contract, "m").to,
            MigrationPhase::Complete);
}

TEST(MigrationPhase, ContractOnlyOnceReady) {
  for (MigrationPhase p : {MigrationPhase::Expanded, MigrationPhase::Migrating}) {
    const Transition t = transition(p, MigrationCall::Contract, "o'k");
    EXPECT_FALSE(t.legal);
    EXPECT_NE(t.why.find("CALL zd_migrate('o''k')"), std::string::npos) << t.why;
  }
}

TEST(MigrationPhase, AbortUntilContract) {
  for (MigrationPhase p :
       {MigrationPhase::Expanded, MigrationPhase::Migrating, MigrationPhase::Ready})
    EXPECT_EQ(transition(p, MigrationCall::Abort, "m").to, MigrationPhase::Aborted);
  EXPECT_FALSE(transition(MigrationPhase::Complete, MigrationCall::Abort, "m").legal);
  EXPECT_FALSE(transition(MigrationPhase::Aborted, MigrationCall::Abort, "m").legal);
}

TEST(MigrationPhase, NamesRoundTrip) {
  for (MigrationPhase p : {MigrationPhase::Expanded, MigrationPhase::Migrating,
                           MigrationPhase::Ready, MigrationPhase::Complete,
                           MigrationPhase::Aborted})
    EXPECT_EQ(phase_from_name(phase_name(p)), p);
  EXPECT_FALSE(phase_from_name("nope").has_value());
}

}  // namespace
}  // namespace zd
