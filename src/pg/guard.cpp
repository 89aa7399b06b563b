// The guard: gather -> decide -> act, for the statements some rule looks at.
#include "pg/guard.hpp"

#include "pg/deferral.hpp"
#include "pg/expand/expand.hpp"
#include "pg/gather.hpp"
#include "pg/guc.hpp"
#include "pg/held_locks.hpp"
#include "pg/journal.hpp"
#include "pg/lock_cap.hpp"
#include "pg/plan.hpp"
#include "pg/rewrite.hpp"
#include "pg/schema_target.hpp"
#include "pg/statement_kinds.hpp"
#include "pg/stats.hpp"
#include "pg/table_facts.hpp"
#include "pg/trusted_code.hpp"
#include "pg/utility_hook.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "lib/stringinfo.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

namespace zd::pg {
namespace {

void run_original(void *arg) { call_next_process_utility(arg); }

int sqlstate_code(const char *s) { return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]); }

// Where a top-level statement's facts and plan are made: a context of the guard's own, emptied
// when the next top-level statement starts and keeping its first block, so that guarding a
// statement mallocs nothing (the portal's context is small and grows by malloc).  Nothing of a
// statement's facts is used after it: what outlives it (held locks, deferred work) is copied.
// While one statement uses it (statement_context_busy), every statement guarded meanwhile (a
// function's, a procedure's, one change of several run on its own) allocates in its caller's
// context instead.
MemoryContext statement_context = nullptr;
bool statement_context_busy = false;

MemoryContext emptied_statement_context() {
  if (statement_context == nullptr)
    statement_context = AllocSetContextCreate(TopMemoryContext, "zero_downtime statement",
                                              ALLOCSET_DEFAULT_SIZES);
  else
    MemoryContextReset(statement_context);
  return statement_context;
}

}  // namespace

[[noreturn]] void guard_refuse(const GuardPlan *plan) {
  const PlanFinding &f = plan->findings[0];
  stats_count(f.rule, kStatRefused);
  ereport(LOG, (errmsg("zero_downtime: refused (%s): %s", f.rule, f.message), errhidestmt(true)));
  ereport(ERROR, (errcode(sqlstate_code(f.sqlstate)), errmsg("%s", f.message),
                  errdetail("%s", f.detail), errhint("%s", f.hint)));
  pg_unreachable();
}

void guard_warn(const GuardPlan *plan) {
  for (int i = 0; i < plan->n_findings; i++) {
    const PlanFinding &f = plan->findings[i];
    stats_count(f.rule, kStatWarned);
    ereport(LOG, (errmsg("zero_downtime: warned (%s): %s", f.rule, f.message), errhidestmt(true)));
    ereport(WARNING, (errmsg("zero_downtime: %s", f.message), errdetail("%s", f.detail),
                      errhint("%s", f.hint)));
  }
}

namespace {

// A lock timeout is retried in autocommit, and in a transaction block that holds no lock yet
// that blocks the application (a migration tool's transaction before its first DDL, or after
// only brief, harmless ones): every attempt and every wait between attempts would keep such a
// lock, and the application queued behind it.
bool may_retry(zd::TxContext tx, const zd::StatementFacts *facts) {
  return tx == zd::TxContext::Autocommit ||
         (tx == zd::TxContext::TransactionBlock && !zd::blocks_application(facts->held.lock));
}

const char *why_no_retry(zd::TxContext tx, const zd::StatementFacts *facts) {
  if (may_retry(tx, facts)) return nullptr;
  if (tx == zd::TxContext::Nested)
    return "Inside a function, procedure or DO block zero_downtime does not retry: run the "
           "statement on its own (autocommit) to have it retried, or once those transactions "
           "have ended.";
  return psprintf("This transaction already holds the %s lock on %s (taken by: %s), which blocks the "
                  "application: zero_downtime does not retry while holding it. Commit that "
                  "statement first, then this one is retried; or run it once those transactions "
                  "have ended.",
                  zd::lock_name(facts->held.lock), facts->held.table.c_str(),
                  facts->held.statement.c_str());
}

bool runs_in_subtransaction(const Node *stmt) {
  const StatementKind *kind = statement_kind(nodeTag(stmt));
  return kind != nullptr && (kind->in_subtransaction == nullptr || kind->in_subtransaction(stmt));
}

// ALTER TABLE subcommands that change only the table's own catalog entries: they lock no
// other relation (no foreign key, index build, partition or dependent object).
bool alters_only_its_table(AlterTableType subtype) {
  switch (subtype) {
    case AT_ColumnDefault:
    case AT_DropNotNull:
    case AT_SetStatistics:
    case AT_SetOptions:
    case AT_ResetOptions:
    case AT_SetStorage:
    case AT_SetCompression:
    case AT_SetRelOptions:
    case AT_ResetRelOptions:
    case AT_ReplaceRelOptions:
    case AT_ClusterOn:
    case AT_DropCluster:
    case AT_ReplicaIdentity:
    case AT_EnableRowSecurity:
    case AT_DisableRowSecurity:
    case AT_ForceRowSecurity:
    case AT_NoForceRowSecurity:
      return true;
    default:
      return false;
  }
}

// The table a statement locks when it locks no other relation, else InvalidOid: an ALTER TABLE
// made only of the subcommands above, on a table without inheritance children or partitions
// (ALTER TABLE recurses to those), that the caller owns: the fast path locks it before
// PostgreSQL checks ownership, and no role may lock what it could not alter.
// (The table is the one gathered: its operations are all on it.)
Oid sole_locked_table(const Node *stmt, const zd::StatementFacts *facts) {
  if (!IsA(stmt, AlterTableStmt)) return InvalidOid;
  const AlterTableStmt *alter = (const AlterTableStmt *) stmt;
  if (alter->objtype != OBJECT_TABLE || facts->ops.size() == 0) return InvalidOid;
  ListCell *lc;
  foreach (lc, alter->cmds)
    if (!alters_only_its_table(lfirst_node(AlterTableCmd, lc)->subtype)) return InvalidOid;
  const Oid relid = facts->ops[0].table.oid;
  for (const zd::Operation &op : facts->ops)
    if (op.table.oid != relid) return InvalidOid;
  if (!OidIsValid(relid) || !caller_owns_gathered_relation(relid) || relation_has_subclass(relid))
    return InvalidOid;
  return relid;
}

// In a transaction block the locks a statement took stay until commit: remember the ones that
// block the application on tables other sessions use (long-under-held-lock).
void note_locks_taken(const zd::StatementFacts *facts) {
  if (facts->tx == zd::TxContext::Autocommit) return;
  note_schema_changed();
  for (const zd::Operation &op : facts->ops)
    if (zd::blocks_application(op.lock) && op.table.exists && op.table.oid != 0 &&
        !op.table.created_in_transaction && !op.table.temporary)
      note_held_lock(op.table.oid, (LOCKMODE) op.lock, op.table.name.c_str(), facts->sql.c_str());
}

// For the journal, the wait for the statement's first lock: the guard takes that lock itself,
// just before PostgreSQL would, and notes when it is granted.  Only where that lock is known
// exactly and taken first by PostgreSQL's own code (journal_first_lock), on a relation the
// caller owns (no role may lock what it could not alter).
struct MeasuredRun {
  UtilityCall *call;
  Oid relid;
  LOCKMODE mode;
};

void run_measured(void *arg) {
  const MeasuredRun *m = (const MeasuredRun *) arg;
  if (OidIsValid(m->relid)) {
    journal_lock_wait_begins(journal_current);
    LockRelationOid(m->relid, m->mode);
    journal_lock_granted(journal_current);
  }
  run_original(m->call);
}

MeasuredRun measured(UtilityCall *call, const zd::StatementFacts *facts,
                     Oid known_owned = InvalidOid) {
  MeasuredRun m{call, InvalidOid, NoLock};
  if (journal_current == nullptr || facts->ops.size() == 0) return m;
  const Node *stmt = call->pstmt->utilityStmt;
  const zd::Operation &op = facts->ops[0];
  if (op.further_lock || op.through_other_object || !op.table.exists || op.table.oid == 0) return m;
  const LOCKMODE mode = journal_first_lock(stmt, op.table.oid);
  // (Never a system catalog: PostgreSQL refuses to alter one only after the lock is granted
  // to it, the caller's lock would block every session first.)
  if (mode == NoLock || op.table.oid < FirstNormalObjectId ||
      (op.table.oid != known_owned && !caller_owns_gathered_relation(op.table.oid)))
    return m;
  m.relid = op.table.oid;
  m.mode = mode;
  return m;
}

// A rewrite's locks: each step's.
const char *rewrite_locks(const GuardPlan *plan) {
  StringInfoData out;
  initStringInfo(&out);
  for (int i = 0; i < plan->n_steps; i++)
    if (plan->steps[i].lock != zd::Lock::None)
      appendStringInfo(&out, "%sstep %d: %s on %s", out.len > 0 ? ", " : "", i + 1,
                       zd::lock_name(plan->steps[i].lock), plan->steps[i].locked_table);
  return out.data;
}

// DeferEach: the ALTER TABLE's changes one by one, each as the statement of its own it was
// split into, through the guard as if the migration had sent them so: every change is kept,
// each gets its own verdict (run now, lock capped; or its brief part now and the rest
// deferred).  A comment allowing rules for the statement allows them for each.  Should one be
// refused after all, its error aborts the transaction with the others.
// The statement the migration sent while its changes run one by one (recorded with what
// they defer); nullptr otherwise.
const char *sent_statement = nullptr;

void run_each_change(const GuardPlan *plan, const zd::StatementFacts *facts,
                     const UtilityCall &original) {
  const PlanFinding &f = plan->findings[0];
  ereport(NOTICE, (errmsg("zero_downtime: %s", f.message), errdetail("%s", f.detail),
                   errhint("%s", f.hint)));
  // The changes, in the caller's memory (where facts and plan are stays as it is while they
  // run: statement_context_busy).
  const char *allow = "";
  for (size_t i = 0; i < facts->allowed_here.size(); i++)
    allow = psprintf("%s%s%s", allow, i == 0 ? "/* zero_downtime: allow " : ", ",
                     facts->allowed_here[i].c_str());
  if (allow[0] != '\0') allow = psprintf("%s */ ", allow);
  List *changes = NIL;
  for (size_t i = 0; i < facts->split_statements.size(); i++)
    changes = lappend(changes, psprintf("%s%s", allow, facts->split_statements[i].c_str()));
  sent_statement = pstrdup(facts->sql.c_str());
  facts = nullptr;
  plan = nullptr;
  PG_TRY();
  {
    ListCell *lc;
    foreach (lc, changes) {
      const char *sql = (const char *) lfirst(lc);
      PlannedStmt *stmt = makeNode(PlannedStmt);
      stmt->commandType = CMD_UTILITY;
      stmt->canSetTag = original.pstmt->canSetTag;
      stmt->utilityStmt = linitial_node(RawStmt, pg_parse_query(sql))->stmt;
      stmt->stmt_location = 0;
      stmt->stmt_len = (int) strlen(sql);
      guard_process_utility(stmt, sql, false, original.context, original.params,
                            original.query_env, original.dest, original.qc);
      // As between the statements of a query string: the next one sees what this one did.
      CommandCounterIncrement();
      if (ActiveSnapshotSet()) UpdateActiveSnapshotCommandId();
    }
  }
  PG_FINALLY();
  { sent_statement = nullptr; }
  PG_END_TRY();
}

// The DROP COLUMN of an old column whose migration may contract (the rules allowed it):
// that op, else nullptr.
const zd::Operation *retiring_drop(const zd::StatementFacts *facts) {
  for (const zd::Operation &op : facts->ops)
    if (op.kind == zd::OpKind::DropColumn && op.migration != 0 && op.migration_old_column)
      return &op;
  return nullptr;
}

struct CappedCall {
  const CapTarget *target;
  UtilityCall *call;
};

void run_capped_original(void *arg) {
  const CappedCall *c = (const CappedCall *) arg;
  run_with_lock_cap(*c->target, run_original, c->call);
}

}  // namespace

bool guard_has_rules_for(const Node *stmt) {
  // (Unknown kinds: capped without knowing their locks, in guard_statement.)
  return guard_has_rules_for(statement_kind(nodeTag(stmt)), stmt);
}

namespace {

void guard_statement(MemoryContext facts_memory, PlannedStmt *pstmt, const char *query_string,
                     bool read_only_tree, ProcessUtilityContext context, ParamListInfo params,
                     QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc) {
  UtilityCall original{pstmt, query_string, read_only_tree, context,
                             params, query_env,    dest,           qc};
  const zd::TxContext tx = current_tx_context(context);
  MemoryContext caller = MemoryContextSwitchTo(facts_memory);
  zd::StatementFacts *facts = gather_statement(pstmt->utilityStmt, query_string,
                                               pstmt->stmt_location, pstmt->stmt_len, tx);
  GuardPlan *plan = facts != nullptr ? decide_plan(facts) : nullptr;
  MemoryContextSwitchTo(caller);
  if (facts == nullptr) {
    // A statement kind statement_kinds.cpp does not know (a newer server's): the lock cap,
    // without retries, on whatever it locks.
    const bool unknown = statement_kind(nodeTag(pstmt->utilityStmt)) == nullptr;
    CapTarget target{unknown ? zd::Lock::AccessExclusive : zd::Lock::None,
                     "the relations it locks", false, false, "lock-cap"};
    journal_running(journal_current, journal_format::kAllowed, nullptr, nullptr, nullptr,
                    commits_internally(pstmt->utilityStmt));
    run_with_lock_cap(target, run_original, &original);
    return;
  }
  // A deferred statement on the table failed: this DDL is told (the server log was).
  if (facts->ops.size() > 0) warn_if_deferral_failed(facts->ops[0].table.name.c_str());
  const bool spans = commits_internally(pstmt->utilityStmt);
  const char *rule = plan->n_findings > 0 ? plan->findings[0].rule : nullptr;
  switch (plan->verdict) {
    case zd::Verdict::Refuse:
      journal_refused(journal_current, rule);
      guard_refuse(plan);
    case zd::Verdict::Warn: {
      journal_running(journal_current, journal_format::kWarned, rule, facts, journal_locks_of(facts), spans);
      guard_warn(plan);
      MeasuredRun run = measured(&original, facts);
      run_measured(&run);
      note_locks_taken(facts);
      return;
    }
    case zd::Verdict::Rewrite:
      journal_running(journal_current, journal_format::kRewritten, rule, facts, rewrite_locks(plan), true);
      run_rewrite(plan);
      return;
    case zd::Verdict::Defer:
      journal_running(journal_current, journal_format::kDeferred, rule, facts, journal_locks_of(facts), false);
      run_deferral(plan, facts, sent_statement != nullptr ? sent_statement : facts->sql.c_str());
      note_locks_taken(facts);
      return;
    case zd::Verdict::DeferEach:
      // (One journal entry, the statement sent: its changes run below the hook.)
      journal_running(journal_current, journal_format::kDeferred, rule, facts, journal_locks_of(facts), false);
      run_each_change(plan, facts, original);  // (each notes the locks it took)
      return;
    case zd::Verdict::Allow: {
      journal_running(journal_current, journal_format::kAllowed, rule, facts, journal_locks_of(facts), spans);
      CapTarget target{plan->cap_lock, plan->capped_table, may_retry(tx, facts),
                       runs_in_subtransaction(pstmt->utilityStmt), "lock-cap",
                       lock_cap_applies(plan->cap_lock)
                           ? sole_locked_table(pstmt->utilityStmt, facts)
                           : InvalidOid,
                       why_no_retry(tx, facts)};
      // A retry runs the statement again: PostgreSQL must then transform a copy of its tree
      // each time (transformCreateStmt rewrites parts of it in place, in memory the failed
      // attempt's subtransaction frees).  Not on the fast path, which runs it once.
      target.retries_need_fresh_tree = &original.read_only_tree;
      if (plan->start_migration) {
        // zero_downtime.orm_renames = migrate: an expand/contract migration in its place.
        expand::run_as_migration(facts);
      } else if (const zd::Operation *drop = retiring_drop(facts)) {
        // DROP COLUMN of a migration's old column, allowed because it may contract: the
        // contract runs around it (trigger dropped first, the new column's NOT NULL and
        // names after), and the migration is complete.
        CappedCall capped{&target, &original};
        expand::contract_by_drop(drop->migration, run_capped_original, &capped);
      } else {
        // (sole_relid: a table the caller owns, checked already.)
        MeasuredRun run = measured(&original, facts, target.sole_relid);
        run_with_lock_cap(target, run_measured, &run);
      }
      note_locks_taken(facts);
      return;
    }
  }
}

}  // namespace

void guard_process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                           ProcessUtilityContext context, ParamListInfo params,
                           QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc) {
  if (context != PROCESS_UTILITY_TOPLEVEL || statement_context_busy) {
    guard_statement(CurrentMemoryContext, pstmt, query_string, read_only_tree, context, params,
                    query_env, dest, qc);
    return;
  }
  statement_context_busy = true;
  PG_TRY();
  {
    guard_statement(emptied_statement_context(), pstmt, query_string, read_only_tree, context,
                    params, query_env, dest, qc);
  }
  PG_FINALLY();
  { statement_context_busy = false; }
  PG_END_TRY();
}

}  // namespace zd::pg
