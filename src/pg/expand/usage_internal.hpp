// What usage.cpp (which records the use of watched tables and columns) and usage_evidence.cpp
// (which judges that record for contract and DROP, and shows it in SQL) share: the slots of
// shared memory the record lives in.
#pragma once

#include "pg/expand/expand.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "storage/lwlock.h"
#include "port/atomics.h"
}

namespace zd::pg::expand::usage {

// Hidden: the hot path (usage.cpp's executor hook) reads `shared` on every statement; hidden,
// the compiler addresses it directly, as it did while it was local to usage.cpp, instead of
// through the GOT that a symbol other libraries could see would need.
#pragma GCC visibility push(hidden)

const int kSlots = 1024;  // migrations, tables and columns watched at once, all databases
const int kApps = 8;      // distinct application_names remembered per slot

// One application_name's last use of a slot.
struct AppUse {
  char name[NAMEDATALEN];
  TimestampTz at;
};

// The record of one watched column (of a migration), or table or column (of no migration).
// The recorder writes it; the judgments read it.
struct Slot {
  Oid db;  // InvalidOid: free
  int64 migration;  // 0: a table or column of no migration (drop-table, drop-column)
  Oid relid;
  AttrNumber attnum;  // 0: the whole table
  TimestampTz since;      // watched from
  TimestampTz last_used;  // 0: not since
  AppUse apps[kApps];
  bool since_creation;    // migration 0: watched since the table was created
};

// The shared memory: the slots, the lock over them, and the generation counter a backend
// compares with what it read last to know whether its list of watched columns is stale.
struct Shared {
  pg_atomic_uint64 generation;
  LWLock *lock;
  Slot slots[kSlots];
};

// nullptr when the library is not in shared_preload_libraries (nothing is recorded).
extern Shared *shared;

// The slot of (this database, migration, relid, attnum); `add`: taken when missing, watched
// from `since`.  -1 when missing (or no room).  The lock is held exclusively by the caller.
int find_slot(int64 migration, Oid relid, AttrNumber attnum, bool add, TimestampTz since);

// This transaction changes what is watched: at its commit the generation counter moves, and
// every backend reads its list again (a judgment that starts recording a table calls it too).
void note_change_at_commit();

#pragma GCC visibility pop

}  // namespace zd::pg::expand::usage
