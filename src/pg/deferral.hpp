// Deferred safe forms (zero_downtime.defer_in_transaction).  In a transaction block, a
// statement whose safe form must commit between its steps (CREATE INDEX CONCURRENTLY,
// VALIDATE, SET NOT NULL's helper) is not refused: its brief part runs in the transaction and
// the rest is recorded in the extension's zd_deferred table, in the same transaction, so that
// it exists exactly when the transaction commits.  At commit a background worker of the
// database starts (deferral_worker.cpp) and runs the recorded statements.
#pragma once

#include "core/facts.hpp"
#include "pg/plan.hpp"

namespace zd::pg {

// Whether a statement in this transaction may be deferred: the setting is on and the
// extension (its zd_deferred table) is installed in this database.
bool deferral_available(zd::TxContext tx);

// Runs the plan's brief steps in the current transaction (lock capped) and records its
// deferred statements, as coming from `statement` (what the migration sent); the worker
// starts when the transaction commits.
void run_deferral(const GuardPlan *plan, const zd::StatementFacts *facts,
                  const char *statement);

// Queues `later` (run after this transaction commits, in order, each in autocommit through the
// guard, as the current role with this session's search_path and zero_downtime settings).
// drop_invalid_first[i], when given and not null: an index (qualified) that later[i] builds
// CONCURRENTLY IF NOT EXISTS; the worker first drops it CONCURRENTLY if it is INVALID (what a
// build interrupted by a cancel, a terminated worker or a crash leaves, and IF NOT EXISTS would
// keep), each time the item runs (again).
void queue_deferred(const char *rule, const char *relation, const char *statement,
                    const char *const *later, int n_later, const char *undo = nullptr,
                    const char *const *drop_invalid_first = nullptr);

// A WARNING when the last deferred statement on `relation` (schema-qualified) failed: what the
// next DDL on that table hears of it.  Costs nothing until a deferred statement has failed
// since the server started (a shared counter).
void warn_if_deferral_failed(const char *relation);

// Installs the emit_log_hook that explains an error about an index or constraint this
// transaction deferred (it does not exist until the worker builds it): a later statement of
// the migration that names it, USING INDEX it, ON CONFLICT or a foreign key needing it.
void install_deferred_object_explainer();

// The schema the extension is installed in; InvalidOid when it is not installed here.
Oid extension_schema();

// The extension's zd_deferred table, schema-qualified and quoted, and its owner; nullptr when
// the extension is not installed here.
const char *deferred_table(Oid *owner);

}  // namespace zd::pg
