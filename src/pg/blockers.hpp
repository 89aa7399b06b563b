// Who holds a lock that a capped statement waited for: "pid 123 (idle in transaction,
// transaction open for 00:00:12, query started ...: ...)".  Read from PostgreSQL's lock table
// and backend status in C, so that a migration role without pg_read_all_stats still learns
// each blocker's pid, state and transaction age (what it needs to act); the query text only
// when pg_stat_activity would show it to that role.
#pragma once

#include "core/lock.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

// The sessions holding a lock on relation `table` (schema-qualified name) that conflicts with
// `lock`, or nullptr when none does now.
char *describe_blockers(const char *table, zd::Lock lock);

}  // namespace zd::pg
