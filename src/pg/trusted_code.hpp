// What gather may evaluate.  Proving a fact sometimes means folding an expression the way
// PostgreSQL will (a CHECK constraint's constants, a planned type coercion, a partition
// bound), and folding calls the functions in it.  Those functions may belong to whoever owns
// the table, and gather runs as the caller: a superuser's zd_check, or a superuser's ALTER on
// such a table, would run them with a superuser's rights.  So an expression is folded only when
// every function it can call is owned by a superuser (PostgreSQL's own functions are); else the
// proof answers "unknown" and the statement is judged without it (the safe side: a scan or a
// rewrite is assumed).
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "nodes/nodes.h"
}

namespace zd::pg {

// Every function and operator `expr` (an analysed expression) can call, type input and output
// functions of its coercions included, is owned by a superuser.
bool runs_only_trusted_code(Node *expr);

// The same for every valid CHECK constraint of relation `relid`.
bool checks_run_only_trusted_code(Oid relid);

// The caller owns relation `relid` (or is a member of its owner, or a superuser): what
// PostgreSQL requires before it locks, scans or evaluates anything of it for DDL.
bool caller_owns_relation(Oid relid);

}  // namespace zd::pg
