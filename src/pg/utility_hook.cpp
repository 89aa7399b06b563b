// The ProcessUtility hook.  Cheap exits first (this runs for every utility statement of the
// cluster), then the guard: gather facts -> decide -> act (src/pg/guard.cpp).
#include "pg/utility_hook.hpp"

#include "pg/boundary.hpp"
#include "pg/expand/expand.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/journal.hpp"
#include "pg/schema_target.hpp"
#include "pg/schema_watch.hpp"
#include "pg/selftest.hpp"
#include "pg/statement_kinds.hpp"

extern "C" {
#include "commands/extension.h"
#include "nodes/parsenodes.h"
}

namespace zd::pg {
namespace {

ProcessUtility_hook_type prev_process_utility = nullptr;


// The rest of the chain; COPY through expand/contract's column record (insert_columns.cpp).
inline void run_rest(const StatementKind *kind, PlannedStmt *pstmt, const char *query_string,
                     bool read_only_tree, ProcessUtilityContext context, ParamListInfo params,
                     QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc) {
  if (kind != nullptr && kind->tag == T_CopyStmt)
    expand::run_copy(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
  else
    call_next_process_utility(pstmt, query_string, read_only_tree, context, params, query_env,
                              dest, qc);
}

extern "C" void zd_process_utility(PlannedStmt *pstmt, const char *query_string,
                                   bool read_only_tree, ProcessUtilityContext context,
                                   ParamListInfo params, QueryEnvironment *query_env,
                                   DestReceiver *dest, QueryCompletion *qc) {
  Node *const stmt = pstmt->utilityStmt;
  const StatementKind *const kind = statement_kind(nodeTag(stmt));
  // A statement that changes the schema: the drift policy, then its journal entry (kept as
  // journal_current while it runs, for the guard).  Not the parts of a statement PostgreSQL
  // runs as statements of their own (SUBCOMMAND: a CREATE TABLE's indexes, a CREATE SCHEMA's
  // elements), nor an extension's script, nor pg_upgrade's restore.
  JournalEntry *const outer = journal_current;
  JournalEntry *entry = nullptr;
  if ((kind == nullptr || kind->schema != SchemaChange::No) && schema_watch_on() &&
      context != PROCESS_UTILITY_SUBCOMMAND && !IsBinaryUpgrade && !creating_extension)
    entry = schema_watch_begin(pstmt, query_string,
                               kind != nullptr && kind->schema == SchemaChange::Secret);

  // Fast path: no catalog access, no allocation.  Statements the guard has no rules for
  // (transaction control, SET, SHOW, GRANT, ...) leave here after one look at their kind.
  // The steps of a rewrite run through the rest of the chain, below this hook, so they are not
  // guarded twice.
  if (guc_mode == kModeOff || IsBinaryUpgrade || creating_extension ||
      !guard_has_rules_for(kind, stmt)) {
    if (entry == nullptr && outer == nullptr) {
      // Nothing journaled, nothing to restore after it (the common case: a tail call).
      run_rest(kind, pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
      return;
    }
    journal_current = entry;
    if (entry != nullptr)
      journal_running(entry, journal_format::kAllowed, nullptr, nullptr, nullptr, commits_internally(stmt));
    run_rest(kind, pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
    journal_current = outer;
    if (entry != nullptr) journal_ran(entry);
    return;
  }
  journal_current = entry;
  if (guc_debug_fault != kFaultNone)
    run_cpp("the ProcessUtility hook", [] { inject_debug_fault(guc_debug_fault); });

  guard_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest,
                        qc);
  journal_current = outer;
  if (entry != nullptr) journal_ran(entry);
}

}  // namespace

void install_utility_hook() {
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = zd_process_utility;
}

void call_next_process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                               ProcessUtilityContext context, ParamListInfo params,
                               QueryEnvironment *query_env, DestReceiver *dest,
                               QueryCompletion *qc) {
  if (prev_process_utility != nullptr)
    prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest,
                         qc);
  else
    standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env,
                            dest, qc);
}

void call_next_process_utility(void *utility_call) {
  const UtilityCall *c = (const UtilityCall *) utility_call;
  call_next_process_utility(c->pstmt, c->query_string, c->read_only_tree, c->context, c->params,
                            c->query_env, c->dest, c->qc);
}

}  // namespace zd::pg
