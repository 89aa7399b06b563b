// The constraints of a table, from pg_constraint: the valid CHECKs, read once for the several
// facts that need them (a NOT NULL proof, what a type change re-checks, whether they run
// trusted code), and any row for other readers (the foreign keys a DROP removes).
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/pg_list.h"
}

namespace zd::pg {

struct CheckConstraint {
  Oid oid;
  const char *name;
  Node *expr;          // as stored (conbin), not folded
  List *columns;       // int list of the attribute numbers it uses (conkey)
};

// Every valid CHECK constraint of relation `relid`, palloc'd (List of CheckConstraint *).
List *valid_check_constraints(Oid relid);

// Calls visit(tuple, its descriptor, arg) for each pg_constraint row of relation `relid`.
void for_each_constraint_of(Oid relid, void (*visit)(HeapTuple, TupleDesc, void *), void *arg);

}  // namespace zd::pg
