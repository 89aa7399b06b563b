// The blocking locks the current transaction took through statements the guard let run: which
// relation, which mode, and the statement that took it, so that a later long operation in the
// same transaction can be refused naming them (rule long-under-held-lock).  Each is checked
// against PostgreSQL's local lock table before it counts: a ROLLBACK TO SAVEPOINT that released
// it drops it.
#pragma once

#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

extern "C" {
#include "storage/lockdefs.h"
}

namespace zd::pg {

// Remembers, for the rest of this transaction, that `statement` took `mode` on `relid`.
void note_held_lock(Oid relid, LOCKMODE mode, const char *table, const char *statement);

// The strongest such lock the transaction still holds (lock None when there is none).
zd::HeldLock strongest_held_lock();

// This transaction block ran a statement the guard gathered (DDL); cheap enough for every
// UPDATE and DELETE to ask.
void note_schema_changed();
bool transaction_changed_schema();

}  // namespace zd::pg
