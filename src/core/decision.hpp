// What the decide step concludes about a statement: allow it, rewrite it into steps, or refuse
// it; plus whether its strong lock must be capped.
#pragma once

#include "core/lock.hpp"
#include "core/text.hpp"

#include <string>
#include <vector>

namespace zd {

enum class Verdict {
  Allow,    // run as written
  Rewrite,  // run `steps` instead, each in its own transaction
  Refuse,   // raise the finding as an ERROR (enforce) ...
  Warn,     // ... or as a WARNING and run as written (warn mode)
  // In a transaction block, with zero_downtime.defer_in_transaction: run `steps` now, in the
  // transaction (brief and safe there), and record `deferred_sql` to run after it commits.
  Defer,
  // In a transaction block, with zero_downtime.defer_in_transaction: an ALTER TABLE of several
  // changes, each of which on its own would run or be deferred.  Its changes run one by one,
  // each as a statement of its own (StatementFacts::split_statements) through the guard: every
  // change is kept, the brief ones run now, the rest after the commit.
  DeferEach,
};

// In a step's cleanup_sql: replaced by one DROP INDEX CONCURRENTLY of each leftover
// <index>_ccnew index the catalog shows after the failure (Step::leftover_ccnew).
inline constexpr const char *kCcnewDrops = "DROP INDEX CONCURRENTLY <each INVALID _ccnew index>";

// One step of a rewrite, and what to tell the user if it, or a later step, fails.
struct Step {
  std::string sql;
  Lock lock = Lock::None;          // the strongest lock it takes on an existing table
  std::string locked_table;        // the table whose lockers block it ("" = the statement's)
  std::string effect;              // what it changes once committed ("" = nothing lasting)
  std::string undo_sql;            // reverts that effect ("" = nothing to revert)
  std::string leaves_on_failure;   // what its own failure leaves behind ("" = nothing)
  std::string cleanup_sql;         // removes what its failure leaves behind
  bool retry_needs_cleanup = false;  // the leftover must go before the step can run again
  // The INVALID index (schema-qualified) its failure may leave: after a failure the catalog is
  // read, and leaves_on_failure / cleanup_sql are reported only when that index is there and
  // INVALID.  "" = leaves_on_failure is reported as it stands.
  std::string leftover_index;
  // REINDEX ... CONCURRENTLY: its failure may leave INVALID indexes named <index>_ccnew, on
  // table leftover_ccnew_table (0: any table: a schema's or database's).  After a failure the
  // catalog is read: leaves_on_failure is reported only when there are such indexes, and
  // kCcnewDrops in cleanup_sql becomes one DROP INDEX CONCURRENTLY of each.
  bool leftover_ccnew = false;
  uint32_t leftover_ccnew_table = 0;
  // The step runs only while this index (schema-qualified) is INVALID, checked under a SHARE
  // UPDATE EXCLUSIVE lock on its table (a DROP of a leftover never drops an index a concurrent
  // build has made valid meanwhile).  "" = always runs.
  std::string only_if_invalid_index;
};

// A rule's conclusion about one operation.
struct Finding {
  std::string rule;      // stable kebab-case name: create-index, set-not-null, ...
  Verdict verdict = Verdict::Allow;
  std::string sqlstate;  // for refusals
  std::string message;   // names the rule, the operation and the table
  std::string detail;    // the lock, what it blocks, the table's size
  std::string hint;      // the exact safe SQL
  std::vector<Step> steps;  // for rewrites (for deferrals: what runs in the transaction)
  // For deferrals: the statements a background worker runs after the transaction commits, in
  // order, each in autocommit through the guard (which runs its safe form).
  std::vector<std::string> deferred_sql;
  std::string deferred_undo;  // for deferrals: what the worker runs if they fail for good
  Lock lock = Lock::None;   // the lock the operation takes as written
};

struct Decision {
  Verdict verdict = Verdict::Allow;
  std::vector<Finding> findings;  // one per operation a rule fired on
  std::vector<Step> steps;        // the rewrite (Rewrite), or what runs now (Defer)
  std::vector<std::string> deferred_sql;  // Defer: what runs after the commit
  std::string deferred_undo;              // Defer: run by the worker if that fails for good
  Lock cap_lock = Lock::None;     // cap lock_timeout when this lock blocks the application
  Text capped_table;  // the table whose lock is capped (the facts' text: no copy)
  // Allow: the statement's one change (a RENAME COLUMN or rewriting ALTER COLUMN TYPE) starts
  // an expand/contract migration in its place (zero_downtime.orm_renames = migrate).
  bool start_migration = false;

  const Finding *primary() const { return findings.empty() ? nullptr : &findings.front(); }
};

}  // namespace zd
