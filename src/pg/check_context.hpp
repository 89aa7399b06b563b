// How a script reaches the server, for zd_check: which statements run in a transaction block
// (where the guard cannot rewrite), and which ones PostgreSQL refuses there.
#pragma once

#include "core/facts.hpp"
#include "pg/check_overlay.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

enum class SentAs {
  Statements,   // one statement at a time, autocommit (BEGIN ... COMMIT in the script count)
  Transaction,  // the whole script inside one transaction (Knex, Drizzle, node-pg-migrate)
  QueryString,  // the whole script as one simple-protocol query (Prisma Migrate, psql -c):
                // an implicit transaction block when it holds several statements
};

// The accepted spellings ('statements', 'transaction', 'query_string'); false for others.
bool parse_sent_as(const char *text, SentAs *out);
extern const char *const kSentAsValues;  // for error messages

struct ScriptTransaction {
  SentAs sent_as;
  bool in_block;  // an explicit (BEGIN) or implicit transaction block is open
  bool implicit;  // every statement runs in a block (a multi-statement query string)
};

// The state before the first of `n_statements` statements.
ScriptTransaction script_transaction_start(SentAs sent_as, int n_statements);

// Where a top-level statement other than transaction control runs.
zd::TxContext script_tx_context(const ScriptTransaction *t);

// BEGIN, COMMIT, ROLLBACK, SAVEPOINT ...: the new state, and what the overlay forgets.
void script_transaction_control(ScriptTransaction *t, ScriptOverlay *overlay,
                                const TransactionStmt *stmt);

// What PostgreSQL refuses to run in a transaction block or a function (PreventInTransactionBlock,
// SQLSTATE 25001), named as a command ("CREATE INDEX CONCURRENTLY"), else nullptr.
const char *refused_in_transaction_block(const Node *stmt);

}  // namespace zd::pg
