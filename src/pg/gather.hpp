// The gather step: from a utility statement's parse tree and the live catalog to plain facts
// (core/facts.hpp) in palloc memory.  PostgreSQL code only; no object with a destructor.
#pragma once

#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace zd::pg {

// The facts of one statement, or nullptr when no operation of it concerns the guard.
// `statement` is the parse tree, `query_string` the text it came from, and `location`/`length`
// the statement's place in that text (PlannedStmt's stmt_location/stmt_len).
zd::StatementFacts *gather_statement(Node *statement, const char *query_string, int location,
                                     int length, zd::TxContext tx);

// Empty facts in palloc memory, with what every statement shares (the server's version).
zd::StatementFacts *new_statement_facts();

// Where a statement reaching the hook runs.
zd::TxContext current_tx_context(ProcessUtilityContext context);

}  // namespace zd::pg
