// The valid CHECK constraints of a table, read from pg_constraint once for the several facts
// that need them (a NOT NULL proof, what a type change re-checks, whether they run trusted
// code).
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
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

}  // namespace zd::pg
