// The one exception type the decide layer throws on purpose.  It carries everything an
// ereport needs (SQLSTATE, message, detail, hint); the boundary (src/pg/boundary.*) turns it
// into a PostgreSQL ERROR with exactly those fields.
#pragma once
#include <stdexcept>
#include <string>

namespace zd {

// SQLSTATEs raised by zero_downtime (documented in the README).  Class "ZD" is ours.
namespace sqlstate {
inline constexpr const char *kRefused = "ZD001";            // the guard refused a statement
inline constexpr const char *kRewriteIncomplete = "ZD002";  // a multi-step rewrite stopped part way
inline constexpr const char *kSidesDisagree = "ZD003";    // a write set both sides of a migration inconsistently
inline constexpr const char *kMigrationOwned = "ZD004";    // DDL on a column an active migration owns
inline constexpr const char *kWrongPhase = "55000";        // object_not_in_prerequisite_state
inline constexpr const char *kDeferredFailed = "ZD005";   // zd_deferred_wait: a deferred statement failed
inline constexpr const char *kSchemaDrift = "ZD006";  // DDL from a role outside zero_downtime.schema_roles
inline constexpr const char *kInvalidArgument = "22023";    // invalid_parameter_value
inline constexpr const char *kInternal = "XX000";           // internal_error
inline constexpr const char *kLockNotAvailable = "55P03";   // lock_not_available
}  // namespace sqlstate

class ZdError : public std::runtime_error {
 public:
  ZdError(std::string sqlstate, std::string message, std::string detail = {},
          std::string hint = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  const std::string &sqlstate() const { return sqlstate_; }
  const std::string &detail() const { return detail_; }
  const std::string &hint() const { return hint_; }

 private:
  std::string sqlstate_;
  std::string detail_;
  std::string hint_;
};

}  // namespace zd
