#include "pg/guard.hpp"

#include "pg/utility_hook.hpp"

namespace zd::pg {
namespace {
int own_step_depth = 0;
}

bool guard_has_rules_for(const Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_IndexStmt:
    case T_DropStmt:
    case T_ReindexStmt:
    case T_RefreshMatViewStmt:
    case T_AlterTableStmt:
    case T_VacuumStmt:
    case T_ClusterStmt:
    case T_RenameStmt:
      return true;
    default:
      return false;
  }
}

bool guard_is_running_own_step() { return own_step_depth > 0; }

void guard_process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                           ProcessUtilityContext context, ParamListInfo params,
                           QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc) {
  call_next_process_utility(pstmt, query_string, read_only_tree, context, params, query_env,
                            dest, qc);
}

}  // namespace zd::pg
