// Running one SQL statement in a background worker as a client's top-level statement runs
// (exec_simple_query): through a portal, outside any transaction block, so that it may commit
// (a CALL's batches, CREATE INDEX CONCURRENTLY, the guard's rewrite between its steps) and
// every hook sees it as a top-level statement.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// Starts and commits its own transaction; raises the statement's error (the caller aborts).
void run_top_level_statement(const char *sql);

// Whether `qualified` (a schema-qualified, quoted name) is an INVALID index now; looked up in
// a transaction of its own (no transaction may be open).
bool is_invalid_index(const char *qualified);

// The statements of `sql` (several, separated by semicolons), each as its own text.
List *statement_texts(const char *sql);

// The schemas this session searches now, in order, as a search_path value: a worker that runs
// a statement later for this session's role, with this, resolves its names as they resolve
// here.  The temporary schema is left out (no other session sees it); pg_catalog is listed
// where it is searched.
const char *resolved_search_path();

}  // namespace zd::pg
