// The schema drift policy's decision and words.
#include <gtest/gtest.h>

#include "core/drift.hpp"

namespace zd {
namespace {

TEST(Drift, Verdicts) {
  DriftFacts f;
  EXPECT_EQ(drift_verdict(f), DriftVerdict::Pass);  // off
  f.mode = DriftMode::Warn;
  EXPECT_EQ(drift_verdict(f), DriftVerdict::Warn);
  f.mode = DriftMode::Refuse;
  EXPECT_EQ(drift_verdict(f), DriftVerdict::Refuse);
  DriftFacts role = f, fresh = f, allowed = f;
  role.by_schema_role = true;
  fresh.private_objects = true;
  allowed.allowed = true;
  EXPECT_EQ(drift_verdict(role), DriftVerdict::Pass);
  EXPECT_EQ(drift_verdict(fresh), DriftVerdict::Pass);
  EXPECT_EQ(drift_verdict(allowed), DriftVerdict::Pass);
}

TEST(Drift, RefusalNamesRolePolicyAndTheRolesThatMay) {
  const DriftWording w =
      drift_wording(DriftVerdict::Refuse, "CREATE INDEX", "orders", "app", "alice", "migrator, deploy");
  EXPECT_EQ(w.message,
            "CREATE INDEX on orders by role \"app\" refused: only the schema roles may change the "
            "schema (zero_downtime.schema_drift = refuse)");
  EXPECT_NE(w.detail.find("(session user \"alice\")"), std::string::npos);
  EXPECT_NE(w.detail.find("\"migrator\", \"deploy\""), std::string::npos);
  EXPECT_NE(w.hint.find("run as \"migrator\""), std::string::npos);
}

TEST(Drift, EmptyRolesSayNoRoleMay) {
  const DriftWording w = drift_wording(DriftVerdict::Warn, "DROP TABLE", "", "app", "app", "");
  EXPECT_EQ(w.message.find("DROP TABLE by role \"app\" is schema drift"), 0u);
  EXPECT_NE(w.detail.find("empty: no role may change the schema"), std::string::npos);
  EXPECT_EQ(w.detail.find("session user"), std::string::npos);
  EXPECT_NE(w.hint.find("zero_downtime.schema_roles = 'migrator'"), std::string::npos);
}

}  // namespace
}  // namespace zd
