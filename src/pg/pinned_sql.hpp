// SQL that zero_downtime writes itself and runs through SPI (the backfill state, the standby
// lag, the lock cap's report of blockers).  Such a statement must mean what its text says
// whoever calls it: with the caller's search_path, a role that creates `=(text, text)` or
// `clock_timestamp()` in a schema of its own would have its function run in our statement,
// and, when the statement runs as another role (the state table's owner), with that role's
// rights.  So the statement is parsed with search_path = pg_catalog, pg_temp, inside a
// security-restricted operation (no SET ROLE, no temporary objects), and still names every
// operator and function with its schema.  Never for the caller's own clauses: those resolve
// as the caller's statement would.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// Runs sql (SPI must be connected) as `role` (InvalidOid: the current user), pinned as above.
// Returns SPI's result code; a negative one raises.  On error, the (sub)transaction's abort
// restores the user, the security context and search_path.
int run_pinned_sql(Oid role, const char *sql, int nargs, Oid *types, Datum *values,
                   const char *nulls, bool read_only, long count = 0);

}  // namespace zd::pg
