#include "core/lock.hpp"

#include "core/pg_free.hpp"

namespace zd {

const char *lock_name(Lock lock) {
  switch (lock) {
    case Lock::None: return "no";
    case Lock::AccessShare: return "ACCESS SHARE";
    case Lock::RowShare: return "ROW SHARE";
    case Lock::RowExclusive: return "ROW EXCLUSIVE";
    case Lock::ShareUpdateExclusive: return "SHARE UPDATE EXCLUSIVE";
    case Lock::Share: return "SHARE";
    case Lock::ShareRowExclusive: return "SHARE ROW EXCLUSIVE";
    case Lock::Exclusive: return "EXCLUSIVE";
    case Lock::AccessExclusive: return "ACCESS EXCLUSIVE";
  }
  return "unknown";
}

const char *lock_blocks(Lock lock) {
  switch (lock) {
    case Lock::None:
    case Lock::AccessShare:
    case Lock::RowShare:
    case Lock::RowExclusive:
      return "no application query";
    case Lock::ShareUpdateExclusive:
      return "other schema changes and VACUUM, but not reads or writes";
    case Lock::Share:
    case Lock::ShareRowExclusive:
      return "every INSERT, UPDATE and DELETE (reads go on)";
    case Lock::Exclusive:
      return "every INSERT, UPDATE and DELETE and SELECT ... FOR UPDATE (plain reads go on)";
    case Lock::AccessExclusive:
      return "every read and write of the table";
  }
  return "unknown";
}

const char *pg_locks_mode(Lock lock) {
  switch (lock) {
    case Lock::AccessShare: return "AccessShareLock";
    case Lock::RowShare: return "RowShareLock";
    case Lock::RowExclusive: return "RowExclusiveLock";
    case Lock::ShareUpdateExclusive: return "ShareUpdateExclusiveLock";
    case Lock::Share: return "ShareLock";
    case Lock::ShareRowExclusive: return "ShareRowExclusiveLock";
    case Lock::Exclusive: return "ExclusiveLock";
    case Lock::AccessExclusive: return "AccessExclusiveLock";
    case Lock::None: break;
  }
  return "";
}

bool locks_conflict(Lock held, Lock requested) {
  // conflicts[requested] lists, as bits indexed by Lock, the held locks it waits for.
  auto bit = [](Lock l) { return 1u << static_cast<unsigned>(l); };
  const unsigned ae = bit(Lock::AccessExclusive), ex = bit(Lock::Exclusive),
                 sre = bit(Lock::ShareRowExclusive), sh = bit(Lock::Share),
                 sue = bit(Lock::ShareUpdateExclusive), re = bit(Lock::RowExclusive),
                 rs = bit(Lock::RowShare), as = bit(Lock::AccessShare);
  unsigned conflicts = 0;
  switch (requested) {
    case Lock::None: break;
    case Lock::AccessShare: conflicts = ae; break;
    case Lock::RowShare: conflicts = ex | ae; break;
    case Lock::RowExclusive: conflicts = sh | sre | ex | ae; break;
    case Lock::ShareUpdateExclusive: conflicts = sue | sh | sre | ex | ae; break;
    case Lock::Share: conflicts = re | sue | sre | ex | ae; break;
    case Lock::ShareRowExclusive: conflicts = re | sue | sh | sre | ex | ae; break;
    case Lock::Exclusive: conflicts = rs | re | sue | sh | sre | ex | ae; break;
    case Lock::AccessExclusive: conflicts = as | rs | re | sue | sh | sre | ex | ae; break;
  }
  return (conflicts & bit(held)) != 0;
}

}  // namespace zd
