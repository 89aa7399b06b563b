// The schema drift policy (zero_downtime.schema_drift, zero_downtime.schema_roles): whether a
// statement that changes the schema may run for the role running it.  Pure: the PostgreSQL
// side (src/pg/schema_watch.cpp) gathers the facts, this decides and words the finding.
#pragma once

#include <string>

namespace zd {

enum class DriftMode { Off, Warn, Refuse };

struct DriftFacts {
  DriftMode mode = DriftMode::Off;
  bool by_schema_role = false;   // current_user is a member of a role of schema_roles
  bool private_objects = false;  // only temporary objects, or ones this transaction created
  bool allowed = false;          // zero_downtime.allow (or a comment) names schema-drift
};

// What the policy does with the statement.
enum class DriftVerdict {
  Pass,    // a schema role, the policy off, or private objects only
  Warn,    // runs, with a WARNING (and the journal says so)
  Refuse,  // ERROR ZD006
};

// Cheap and allocation free: called for every schema-changing statement.
DriftVerdict drift_verdict(const DriftFacts &facts) noexcept;

// The words of a warning or refusal.  Names are as PostgreSQL shows them (unquoted);
// `roles` is zero_downtime.schema_roles as set ("" when empty).
struct DriftWording {
  std::string message;
  std::string detail;
  std::string hint;
};
DriftWording drift_wording(DriftVerdict verdict, const std::string &command,
                           const std::string &object, const std::string &role,
                           const std::string &session_role, const std::string &roles);

}  // namespace zd
