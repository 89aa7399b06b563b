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

}  // namespace zd
