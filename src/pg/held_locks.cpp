#include "pg/held_locks.hpp"

#include "pg/gather_internal.hpp"

extern "C" {
#include "nodes/pg_list.h"
#include "storage/lock.h"
#include "storage/proc.h"
}

namespace zd::pg {
namespace {

struct Noted {
  Oid relid;
  LOCKMODE mode;
  const char *table;
  const char *statement;
};

// In TopTransactionContext, valid only while the transaction that noted them runs: a new
// local transaction id means they went with the memory of the one before.
List *noted = NIL;
LocalTransactionId noted_in = InvalidLocalTransactionId;

LocalTransactionId schema_changed_in = InvalidLocalTransactionId;

bool noted_here() { return noted_in == ZD_MY_LXID; }

}  // namespace

void note_held_lock(Oid relid, LOCKMODE mode, const char *table, const char *statement) {
  if (!noted_here()) {
    noted = NIL;
    noted_in = ZD_MY_LXID;
  }
  MemoryContext caller = MemoryContextSwitchTo(TopTransactionContext);
  Noted *n = (Noted *) palloc(sizeof(Noted));
  *n = Noted{relid, mode, pstrdup(table), pstrdup(statement)};
  noted = lappend(noted, n);
  MemoryContextSwitchTo(caller);
}

void note_schema_changed() { schema_changed_in = ZD_MY_LXID; }

bool transaction_changed_schema() {
  return schema_changed_in != InvalidLocalTransactionId && schema_changed_in == ZD_MY_LXID;
}

zd::HeldLock strongest_held_lock() {
  zd::HeldLock held;
  if (noted == NIL || !noted_here()) return held;
  ListCell *lc;
  foreach (lc, noted) {
    const Noted *n = (const Noted *) lfirst(lc);
    if (lock_from_lockmode(n->mode) <= held.lock) continue;
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, n->relid);
    if (!ZD_LOCK_HELD_BY_ME(&tag, n->mode)) continue;  // released (ROLLBACK TO SAVEPOINT)
    held.lock = lock_from_lockmode(n->mode);
    held.table = n->table;
    held.statement = n->statement;
  }
  return held;
}

}  // namespace zd::pg
