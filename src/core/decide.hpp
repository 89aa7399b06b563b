// The decide step: facts and policy in, a decision out.  The hook and zd_check() both call it,
// so the guard and the linter can never disagree.
#pragma once

#include "core/decision.hpp"
#include "core/facts.hpp"
#include "core/policy.hpp"

namespace zd {

Decision decide(const StatementFacts &facts, const Policy &policy);

// What the error of a rewrite that stopped at step `failed` (0-based) should say: what was
// committed, what is left behind, and the SQL to finish or to undo.  `left`: the catalog shows
// the step's leftover (Step::leftover_index) after the failure; false: it left nothing.
struct FailureReport {
  std::string detail;
  std::string hint;
};
FailureReport describe_failed_rewrite(const std::string &rule, const std::vector<Step> &steps,
                                      size_t failed, bool left = true);

}  // namespace zd
