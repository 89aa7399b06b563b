#include "pg/schema_watch.hpp"

#include "core/drift.hpp"
#include "core/zd_error.hpp"
#include "pg/boundary.hpp"
#include "pg/guc.hpp"
#include "pg/schema_roles.hpp"
#include "pg/schema_target.hpp"
#include "pg/stats.hpp"

#include <string>

extern "C" {
#include "tcop/cmdtag.h"
}

namespace zd::pg {

int guc_schema_drift = (int) zd::DriftMode::Off;

namespace {

const char *const kRule = "schema-drift";
const char *const kState = zd::sqlstate::kSchemaDrift;

bool allowed_by_setting() {
  for (const char *const *rule = allowed_rules(); *rule != nullptr; ++rule)
    if (strcmp(*rule, kRule) == 0) return true;
  return false;
}

struct Wording {
  char *message, *detail, *hint;
};

char *palloc_copy(const std::string &s) {
  return call_pg([&s] { return pnstrdup(s.data(), s.size()); });
}

Wording word(zd::DriftVerdict verdict, const char *command, const char *object) {
  const char *role = pstrdup(role_name(GetUserId()));
  const char *session = pstrdup(role_name(GetSessionUserId()));
  const char *roles = schema_roles_text();
  return run_cpp("the schema drift policy", [=] {
    const zd::DriftWording w =
        zd::drift_wording(verdict, command, object != nullptr ? object : "", role, session, roles);
    return Wording{palloc_copy(w.message), palloc_copy(w.detail), palloc_copy(w.hint)};
  });
}

}  // namespace

JournalEntry *schema_watch_begin(PlannedStmt *pstmt, const char *query_string, bool redact) {
  const Node *stmt = pstmt->utilityStmt;
  zd::DriftFacts facts;
  facts.mode = (zd::DriftMode) guc_schema_drift;
  facts.by_schema_role = current_user_is_schema_role();
  // Only for a role outside the schema roles, with the policy on: a catalog look-up or two.
  if (facts.mode != zd::DriftMode::Off && !facts.by_schema_role) {
    facts.allowed = allowed_by_setting();
    facts.private_objects = !facts.allowed && only_private_objects(stmt);
  }
  const zd::DriftVerdict verdict = zd::drift_verdict(facts);
  namespace fmt = journal_format;
  const fmt::Policy policy = facts.mode == zd::DriftMode::Off       ? fmt::kPolicyOff
                             : facts.by_schema_role                 ? fmt::kPolicySchemaRole
                             : facts.private_objects                ? fmt::kPolicyExempt
                             : facts.allowed                        ? fmt::kPolicyAllowed
                             : verdict == zd::DriftVerdict::Warn    ? fmt::kPolicyWarned
                                                                    : fmt::kPolicyRefused;
  const CommandTag tag = CreateCommandTag((Node *) stmt);
  JournalEntry *entry = nullptr;
  if (journal_enabled()) {
    const int location = pstmt->stmt_location >= 0 ? pstmt->stmt_location : 0;
    const int length = pstmt->stmt_len > 0 ? pstmt->stmt_len : (int) strlen(query_string + location);
    entry = journal_open(tag, stmt, query_string + location, length, redact,
                         facts.by_schema_role, policy);
  }
  if (verdict == zd::DriftVerdict::Pass) return entry;

  const char *command = GetCommandTagName(tag);
  const char *object = statement_object(stmt);
  const Wording w = word(verdict, command, object);
  if (verdict == zd::DriftVerdict::Refuse) {
    journal_refused(entry, kRule);
    stats_count(kRule, kStatRefused);
    ereport(LOG, (errmsg("zero_downtime: refused (%s): %s", kRule, w.message), errhidestmt(true)));
    ereport(ERROR, (errcode(MAKE_SQLSTATE(kState[0], kState[1], kState[2], kState[3], kState[4])), errmsg("%s", w.message),
                    errdetail("%s", w.detail), errhint("%s", w.hint)));
  }
  stats_count(kRule, kStatWarned);
  ereport(LOG, (errmsg("zero_downtime: warned (%s): %s", kRule, w.message), errhidestmt(true)));
  ereport(WARNING, (errmsg("zero_downtime: %s", w.message), errdetail("%s", w.detail),
                    errhint("%s", w.hint)));
  return entry;
}

}  // namespace zd::pg
