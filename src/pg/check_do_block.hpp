// The SQL statements of a DO block, for zd_check to judge as the guard judges them when the
// block runs (TxContext::Nested).  PL/pgSQL only, read with PL/pgSQL's own compiler, found at
// run time (the library does not link against plpgsql): nothing of the block runs.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "nodes/parsenodes.h"
}

namespace zd::pg {

struct DoBlockItem {
  enum Kind {
    Sql,       // a statement run as written (sql: its text, possibly several for EXECUTE '...')
    Dynamic,   // EXECUTE of a computed string: cannot be known before it runs
    Commit,    // COMMIT inside the block (a DO outside a transaction block)
    Rollback,  // ROLLBACK inside the block
  };
  Kind kind;
  const char *sql;  // Sql: the text; Dynamic: the expression EXECUTE runs
  int line;         // in the block's body
};

// The block's items in the order they appear (branches and loops as written, each once), as
// a List of DoBlockItem *.  nullptr when the block cannot be read, with *why saying why (its
// language is not PL/pgSQL, PL/pgSQL is not installed).  A block PL/pgSQL cannot compile
// raises its error, as running it would.
List *do_block_items(const DoStmt *stmt, const char **why);

}  // namespace zd::pg
