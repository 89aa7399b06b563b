#include "core/drift.hpp"

namespace zd {

DriftVerdict drift_verdict(const DriftFacts &facts) noexcept {
  if (facts.mode == DriftMode::Off || facts.by_schema_role || facts.private_objects ||
      facts.allowed)
    return DriftVerdict::Pass;
  return facts.mode == DriftMode::Warn ? DriftVerdict::Warn : DriftVerdict::Refuse;
}

namespace {

std::string quoted(const std::string &name) { return "\"" + name + "\""; }

// "migrator", "deploy"  from  migrator, deploy
std::string role_list(const std::string &roles) {
  std::string out, one;
  auto flush = [&] {
    size_t b = one.find_first_not_of(' '), e = one.find_last_not_of(' ');
    if (b != std::string::npos) out += (out.empty() ? "" : ", ") + quoted(one.substr(b, e - b + 1));
    one.clear();
  };
  for (char c : roles) {
    if (c == ',') flush();
    else one += c;
  }
  flush();
  return out;
}

}  // namespace

DriftWording drift_wording(DriftVerdict verdict, const std::string &command,
                           const std::string &object, const std::string &role,
                           const std::string &session_role, const std::string &roles) {
  DriftWording w;
  const std::string what = command + (object.empty() ? "" : " on " + object);
  const std::string setting = verdict == DriftVerdict::Refuse ? "refuse" : "warn";
  w.message = what + " by role " + quoted(role) +
              (verdict == DriftVerdict::Refuse ? " refused" : " is schema drift") +
              ": only the schema roles may change the schema (zero_downtime.schema_drift = " +
              setting + ")";
  const std::string listed = role_list(roles);
  w.detail = "Role " + quoted(role) +
             (session_role != role ? " (session user " + quoted(session_role) + ")" : "") +
             " is not a member of any role in zero_downtime.schema_roles" +
             (listed.empty() ? " (empty: no role may change the schema)" : ": " + listed) +
             ". A change made outside the migration tool makes the next migration fail where it "
             "passed in staging.";
  const std::string first = listed.empty() ? "" : listed.substr(0, listed.find(','));
  w.hint = listed.empty()
               ? "Name the migration roles: ALTER SYSTEM SET zero_downtime.schema_roles = "
                 "'migrator'; SELECT pg_reload_conf();"
               : "Put the change in a migration run as " + first +
                     " (any member of " + listed +
                     " may run it). A deliberate one-off change, as a superuser: SET "
                     "zero_downtime.schema_drift = warn; then the statement; then RESET "
                     "zero_downtime.schema_drift;";
  return w;
}

}  // namespace zd
