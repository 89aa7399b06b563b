// Runs a rewrite: each step of the plan in its own transaction (autocommit only), announced by
// a NOTICE that shows the SQL actually run.  A step that fails keeps its own error and SQLSTATE,
// with a DETAIL saying what was committed and left behind and a HINT with the SQL to finish
// or to undo.
#pragma once

#include "pg/plan.hpp"

namespace zd::pg {

void run_rewrite(const GuardPlan *plan);

// Parses, analyses and runs one utility statement through the rest of the hook chain, the way
// PortalRunUtility runs one (with a snapshot when it needs one).
void run_utility_sql(const char *sql);

}  // namespace zd::pg
