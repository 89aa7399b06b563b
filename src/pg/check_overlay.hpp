// zd_check's memory of what a script's earlier statements did, for judging the later ones as
// the guard will judge them when the script runs: the relations it creates (new: nothing to
// say), the columns, CHECK constraints and NOT NULLs it adds or drops on existing tables, and,
// inside a transaction, the blocking locks its statements still hold.  Read from parse trees
// and gathered facts only: nothing of the script runs, no table is locked.
//
// The overlay follows the script's transactions: what a ROLLBACK (or ROLLBACK TO SAVEPOINT)
// undoes is forgotten, and a commit releases the locks.  Plain palloc'd data (one call of
// zd_check); no destructors.
#pragma once

#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

extern "C" {
#include "nodes/parsenodes.h"
}

namespace zd::pg {

struct ScriptOverlay {
  List *entries;     // of OverlayEntry * (check_overlay.cpp), in the script's order
  int transaction_start;  // length of `entries` when the current transaction began
  List *savepoints;  // of SavepointMark *, innermost last
};

ScriptOverlay *overlay_create();

// Puts what the script did before into the facts of its next statement: a relation it created
// is new; a SET NOT NULL or PRIMARY KEY column is proven (or no longer proven) NOT NULL by what
// it added or dropped; inside a transaction (tx not Autocommit), `held` is the strongest lock
// its earlier statements hold instead of the calling session's own; an ALTER TYPE of a column
// the script added or changed is judged from the type the script gave it.
void overlay_apply(const ScriptOverlay *overlay, const Node *stmt, zd::StatementFacts *facts);

// Remembers what `stmt` does (facts: its gathered facts after overlay_apply, or nullptr).
void overlay_record(ScriptOverlay *overlay, const Node *stmt, const zd::StatementFacts *facts);

// The script's transaction control: a transaction begins, commits (its locks released), rolls
// back (its effects forgotten); SAVEPOINT / ROLLBACK TO / RELEASE.
void overlay_begin(ScriptOverlay *overlay);
void overlay_commit(ScriptOverlay *overlay);
void overlay_rollback(ScriptOverlay *overlay);
void overlay_transaction_stmt(ScriptOverlay *overlay, const TransactionStmt *stmt);

}  // namespace zd::pg
