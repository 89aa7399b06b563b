// Running one SQL statement in a background worker as a client's top-level statement runs
// (exec_simple_query): through a portal, outside any transaction block, so that it may commit
// (a CALL's batches, CREATE INDEX CONCURRENTLY, the guard's rewrite between its steps) and
// every hook sees it as a top-level statement.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// Starts and commits its own transaction; raises the statement's error (the caller aborts).
void run_top_level_statement(const char *sql);

}  // namespace zd::pg
