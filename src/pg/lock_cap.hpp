// The lock cap: a statement that waits for a lock blocking the application makes every later
// query on the table queue behind it.  So such statements run with lock_timeout at most
// zero_downtime.lock_timeout; a lock timeout is retried with exponential backoff and jitter,
// inside a subtransaction (in autocommit, or in a transaction that holds no blocking lock yet), until zero_downtime.lock_retries or
// zero_downtime.lock_retry_budget run out.  The final error names the blocking backends.
#pragma once

#include "core/lock.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

struct CapTarget {
  zd::Lock lock;      // the lock the statement takes; weaker than blocking: no cap
  const char *table;  // schema-qualified name, for naming the blockers
  bool retry;         // autocommit: retry lock timeouts
  bool subtransaction;  // the statement can run inside a subtransaction
  const char *rule;     // counted against this rule in zd_rule_stats ("lock-cap" if none)
  // The table, when the statement locks no other relation (InvalidOid: it may, or unknown).
  // Then a lock granted at once up front means the statement cannot queue at all, and it runs
  // without the subtransaction a retry needs.
  Oid sole_relid = InvalidOid;
  // Without retries (retry false): why, for the final error's hint; nullptr: a transaction
  // block's general reason.
  const char *why_no_retry = nullptr;
  // Set to true before the first attempt that may be retried: the statement's parse tree must
  // then be copied by PostgreSQL each time (a failed attempt's transformations of it are freed
  // with its subtransaction).  nullptr: nothing to tell.
  bool *retries_need_fresh_tree = nullptr;
};

// Whether a statement taking `lock` is capped (enforce mode, a lock that blocks the application).
bool lock_cap_applies(zd::Lock lock);

// Runs run(arg) under the cap.
void run_with_lock_cap(const CapTarget &target, void (*run)(void *), void *arg);

}  // namespace zd::pg
