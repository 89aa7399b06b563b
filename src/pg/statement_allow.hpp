// Allowing a rule for one statement: a comment before it, /* zero_downtime: allow drop-column */
// (or -- zero_downtime: allow drop-column, several names separated by commas).  It covers that
// statement alone, so unlike SET [LOCAL] zero_downtime.allow it can be pasted into a migration
// tool's transaction (no BEGIN / COMMIT to end it) and never carries over to the next
// migration of the same run.  Only a role that may set zero_downtime.allow may use it.
#pragma once

#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

// The rules the comments in `leading` (the text before the statement's first token) allow.
// Unknown rule names (22023) and a role that may not set zero_downtime.allow (42501) are
// errors: the statement does not run.
Span<const zd::Text> statement_allows(const char *leading, int length);

}  // namespace zd::pg
