// Statements that change the schema (statement_kinds.cpp's SchemaChange column): the schema
// drift policy (zero_downtime.schema_drift, zero_downtime.schema_roles; decided in
// core/drift.cpp) and the journal's entry (journal.hpp), when the hook sees one.
#pragma once

#include "pg/journal.hpp"
#include "pg/pg_headers.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace zd::pg {

// zero_downtime.schema_drift (zd::DriftMode)
extern int guc_schema_drift;

// Schema changes are looked at: the policy is on or the journal is.
inline bool schema_watch_on() { return guc_schema_drift != 0 || journal_enabled(); }

// For a statement of a kind that changes the schema: applies the policy (a refusal is
// recorded, then raised: ERROR ZD006; a warning is a WARNING) and opens its journal entry
// (nullptr without a journal).
JournalEntry *schema_watch_begin(PlannedStmt *pstmt, const char *query_string, bool redact);

}  // namespace zd::pg
