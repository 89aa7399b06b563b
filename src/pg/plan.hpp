// The decide step's conclusion as plain palloc'd data, for the act step (PostgreSQL code that
// may ereport at any point, so nothing here has a destructor).
#pragma once

#include "core/decision.hpp"
#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

struct PlanStep {
  const char *sql;
  zd::Lock lock;
  const char *locked_table;  // whose lockers block it
  const char *failure_detail;  // what the error says if this step fails
  const char *failure_hint;
  // Step::leftover_index ("" = none), and what the error says instead when the catalog shows,
  // after the failure, that it is not there as an INVALID index: the step left nothing.
  const char *leftover_index;
  const char *clean_failure_detail;
  const char *clean_failure_hint;
  const char *only_if_invalid_index;  // Step::only_if_invalid_index ("" = always runs)
  bool leftover_ccnew;                // Step::leftover_ccnew, on leftover_ccnew_table
  Oid leftover_ccnew_table;
};

struct PlanFinding {
  const char *rule;
  zd::Lock lock;
  const char *sqlstate;
  const char *message;
  const char *detail;
  const char *hint;
};

struct GuardPlan {
  zd::Verdict verdict;
  PlanFinding *findings;
  int n_findings;
  PlanStep *steps;
  int n_steps;
  zd::Lock cap_lock;         // Lock::None: no cap
  const char *capped_table;  // schema-qualified, quoted
  const char **deferred_sql;  // Defer: what runs after the commit
  int n_deferred;
  const char *deferred_undo;  // Defer: what the worker runs if that fails for good ("": none)
  bool start_migration;       // Decision::start_migration
};

// Decides on `facts` under the current zero_downtime.* settings (through the boundary).
// `as_enforce`: decide as in enforce mode whatever zero_downtime.mode says (for zd_check).
GuardPlan *decide_plan(const zd::StatementFacts *facts, bool as_enforce = false);

}  // namespace zd::pg
