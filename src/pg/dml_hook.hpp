// The executor hook: every query passes through ExecutorStart.  It judges only an UPDATE or
// DELETE in a transaction block that changed the schema (rule whole-table-dml); everything else
// goes straight on after two comparisons.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// Saves the previous ExecutorStart hook and installs ours (from _PG_init).
void install_dml_hook();

}  // namespace zd::pg
