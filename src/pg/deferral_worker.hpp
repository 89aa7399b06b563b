// The background side of deferred safe forms: a worker per database runs the rows of
// zd_deferred in order, each as the role that queued it, in autocommit, through the guard
// (which runs its safe form: CREATE INDEX CONCURRENTLY, VALIDATE, SET NOT NULL's steps).
//   - when a transaction that queued rows commits, its backend starts the database's worker;
//   - a launcher started with the server (shared_preload_libraries) starts one for every
//     database, so that rows queued before a restart or a crash are run;
//   - one worker per database at a time (a lock of its own); a row left 'running' by a worker
//     that died is run again (the guard's safe forms finish or redo what an interrupted run
//     left), a row that fails marks the rest of its statement's rows 'skipped'.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// The current transaction queued rows: start the database's worker when it commits.
void start_deferral_worker_at_commit();

// From _PG_init while the server starts: register the launcher.
void register_deferral_launcher();

}  // namespace zd::pg
