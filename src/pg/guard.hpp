// The guard: gather facts about a utility statement, decide, act.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace zd::pg {

// True for the statement kinds some rule looks at.  One switch on the node tag: the hook's
// fast path calls it for every utility statement.
bool guard_has_rules_for(const Node *stmt);

struct GuardPlan;
// The act step's reports of a plan: its refusal as the ERROR (enforce), its findings as
// WARNINGs (warn mode); each logged and counted.
[[noreturn]] void guard_refuse(const GuardPlan *plan);
void guard_warn(const GuardPlan *plan);

void guard_process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                           ProcessUtilityContext context, ParamListInfo params,
                           QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc);

}  // namespace zd::pg
