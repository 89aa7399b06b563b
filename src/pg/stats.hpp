// Per-rule counters in shared memory (only when preloaded): how often each rule rewrote,
// refused, warned or deferred, and how many lock retries it caused.  Read by the zd_rule_stats view.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

enum StatKind {
  kStatRewritten,
  kStatRefused,
  kStatWarned,
  kStatLockRetries,
  kStatDeferred,
  kStatDeferredFailed,  // deferred statements that failed for good (counted by the worker)
  kStatKinds
};

// From _PG_init during shared_preload_libraries: reserve the memory and set up the hooks.
void stats_install_hooks();

// Counts one event for `rule` (a rule name, or "lock-cap" for statements no rule fired on).
// Without shared memory (not preloaded) it does nothing.
void stats_count(const char *rule, StatKind kind);

// Deferred statements failed for good since the server started, all rules (0 without shared
// memory): one atomic read.
uint64 stats_deferred_failures();

}  // namespace zd::pg
