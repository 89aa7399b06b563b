// PostgreSQL's table lock levels and what each one blocks (see the lock table in
// ../shared/reference/ddl-safety.md).  Used to explain refusals and to decide the lock cap.
#pragma once

#include <string>

namespace zd {

enum class Lock {
  None,
  AccessShare,
  RowShare,
  RowExclusive,
  ShareUpdateExclusive,
  Share,
  ShareRowExclusive,
  Exclusive,
  AccessExclusive,
};

// "ACCESS EXCLUSIVE", ...
const char *lock_name(Lock lock);

// What the application cannot do while the lock is held: "all reads and writes", ...
const char *lock_blocks(Lock lock);

// The name pg_locks.mode gives the lock: "AccessExclusiveLock", ...
const char *pg_locks_mode(Lock lock);

// True when a session holding `held` makes a request for `requested` wait (PostgreSQL's
// conflict table, "Explicit Locking" in its documentation).
bool locks_conflict(Lock held, Lock requested);

// Locks stronger than SHARE UPDATE EXCLUSIVE block application reads or writes, so a statement
// waiting for one makes every later query on the table queue behind it.
inline bool blocks_application(Lock lock) { return lock > Lock::ShareUpdateExclusive; }

}  // namespace zd
