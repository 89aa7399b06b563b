// The call from the PostgreSQL side into the pure decide layer, through run_cpp, and the copy
// of its C++ result into palloc memory.
#include "core/decide.hpp"
#include "pg/boundary.hpp"
#include "pg/guc.hpp"
#include "pg/plan.hpp"

#include <string>

namespace zd::pg {
namespace {

// palloc from C++ code: an out-of-memory ERROR becomes a C++ exception, never a longjmp.
char *copy_text(const std::string &text) {
  static char empty[] = "";
  if (text.empty()) return empty;  // (read only, like every text of a plan)
  return call_pg([&text] { return pnstrdup(text.data(), text.size()); });
}

template <typename T>
T *zeroed_array(size_t n) {
  if (n == 0) return nullptr;  // (the common plan: nothing to copy, no boundary crossing)
  return static_cast<T *>(call_pg([n] { return palloc0(sizeof(T) * n); }));
}

zd::Policy current_policy(bool as_enforce) {
  zd::Policy policy;
  policy.mode = guc_mode == kModeOff    ? zd::Mode::Off
                : guc_mode == kModeWarn ? zd::Mode::Warn
                                        : zd::Mode::Enforce;
  if (as_enforce) policy.mode = zd::Mode::Enforce;
  policy.small_table_bytes = static_cast<int64_t>(guc_small_table_size_kb) * 1024;
  policy.lock_timeout_ms = guc_lock_timeout_ms;
  policy.orm_renames_migrate = guc_orm_renames == kOrmRenamesMigrate;
  for (const char *const *rule = allowed_rules(); *rule != nullptr; ++rule)
    policy.allowed_rules.emplace_back(*rule);
  return policy;
}

GuardPlan *make_plan(const zd::StatementFacts *facts, bool as_enforce) {
  const zd::Decision d = zd::decide(*facts, current_policy(as_enforce));
  GuardPlan *plan = zeroed_array<GuardPlan>(1);
  plan->verdict = d.verdict;
  plan->cap_lock = d.cap_lock;
  plan->capped_table = d.capped_table.c_str();  // (the facts' own text, as long-lived)
  plan->n_findings = static_cast<int>(d.findings.size());
  plan->findings = zeroed_array<PlanFinding>(d.findings.size());
  for (size_t i = 0; i < d.findings.size(); ++i) {
    const zd::Finding &f = d.findings[i];
    plan->findings[i] = PlanFinding{copy_text(f.rule), f.lock, copy_text(f.sqlstate),
                                    copy_text(f.message), copy_text(f.detail),
                                    copy_text(f.hint)};
  }
  plan->n_steps = static_cast<int>(d.steps.size());
  plan->steps = zeroed_array<PlanStep>(d.steps.size());
  for (size_t i = 0; i < d.steps.size(); ++i) {
    const zd::FailureReport r = zd::describe_failed_rewrite(d.findings[0].rule, d.steps, i);
    const zd::FailureReport clean =
        zd::describe_failed_rewrite(d.findings[0].rule, d.steps, i, false);
    const zd::Step &step = d.steps[i];
    plan->steps[i] = PlanStep{copy_text(step.sql), step.lock,
                              copy_text(step.locked_table.empty() ? d.capped_table.str()
                                                                  : step.locked_table),
                              copy_text(r.detail), copy_text(r.hint),
                              copy_text(step.leftover_index), copy_text(clean.detail),
                              copy_text(clean.hint), copy_text(step.only_if_invalid_index),
                              step.leftover_ccnew, (Oid) step.leftover_ccnew_table};
  }
  plan->n_deferred = static_cast<int>(d.deferred_sql.size());
  plan->deferred_sql = zeroed_array<const char *>(d.deferred_sql.size());
  for (size_t i = 0; i < d.deferred_sql.size(); ++i)
    plan->deferred_sql[i] = copy_text(d.deferred_sql[i]);
  plan->deferred_undo = copy_text(d.deferred_undo);
  plan->start_migration = d.start_migration;
  return plan;
}

}  // namespace

GuardPlan *decide_plan(const zd::StatementFacts *facts, bool as_enforce) {
  return run_cpp("the guard's decision",
                 [facts, as_enforce] { return make_plan(facts, as_enforce); });
}

}  // namespace zd::pg
