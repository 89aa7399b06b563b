// Running a piece of PostgreSQL work so that its ERROR can be looked at instead of aborting
// the statement: inside an internal subtransaction, rolled back on error (the pattern of
// PL/pgSQL's exception blocks).
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// Runs run(arg) in a subtransaction, in a memory context of its own that is deleted when it
// ends: run() keeps nothing there that the caller reads afterwards.  Returns nullptr on
// success, else the error (a copy, in the caller's memory context) after rolling the
// subtransaction back.
ErrorData *run_in_subtransaction(void (*run)(void *), void *arg);

// For the gather step, in the caller's memory context (what run() allocates is kept): run(arg)
// may raise errors PostgreSQL would raise itself, differently
// worded, when the statement runs.  Such an error is swallowed and false returned (the guard
// then has no facts for it, and PostgreSQL reports its own error).  A cancel or termination
// is re-raised.
bool gather_or_give_up(void (*run)(void *), void *arg);

}  // namespace zd::pg
