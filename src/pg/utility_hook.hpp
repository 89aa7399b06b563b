// The ProcessUtility hook: every utility statement of the backend passes through it.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace zd::pg {

// Saves the previous hook and installs ours (from _PG_init).
void install_utility_hook();

// Runs a statement through the rest of the chain: the previous hook, or the standard one.
void call_next_process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                               ProcessUtilityContext context, ParamListInfo params,
                               QueryEnvironment *query_env, DestReceiver *dest,
                               QueryCompletion *qc);

// One call of the hook, kept to be made later (under the lock cap, in a subtransaction).
struct UtilityCall {
  PlannedStmt *pstmt;
  const char *query_string;
  bool read_only_tree;
  ProcessUtilityContext context;
  ParamListInfo params;
  QueryEnvironment *query_env;
  DestReceiver *dest;
  QueryCompletion *qc;
};

// Makes a UtilityCall (void *, for callbacks) through the rest of the chain.
void call_next_process_utility(void *utility_call);

}  // namespace zd::pg
