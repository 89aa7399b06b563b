// Reading pg_depend and pg_shdepend: what depends on an object, what an object is an internal
// part of, what a role owns.  Shared by the cascade walk (gather_cascade.cpp), the type
// change's index rebuilds (gather_columns.cpp) and REASSIGN OWNED (gather_lock_only.cpp).
// Reads only; locks nothing but the catalog.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "catalog/objectaddress.h"
#include "nodes/pg_list.h"
}

namespace zd::pg {

// The objects that depend on `object` (on any of its columns too, when objectSubId is 0), as a
// List of palloc'd ObjectAddress.
List *dependents_of(const ObjectAddress &object);

// The objects `object` is an internal part of (DEPENDENCY_INTERNAL: a generated column's
// expression is part of its column), as a List of palloc'd ObjectAddress.
List *internal_owners_of(const ObjectAddress &object);

// The objects `role` owns in this database (pg_shdepend), as a List of palloc'd ObjectAddress.
List *owned_by(Oid role);

}  // namespace zd::pg
