#include "pg/lock_cap.hpp"

#include "pg/guc.hpp"
#include "pg/blockers.hpp"
#include "pg/sleep.hpp"
#include "pg/stats.hpp"
#include "pg/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/resowner.h"
}

namespace zd::pg {
namespace {

const int kMinBackoffMs = 100;
const int kMaxBackoffMs = 10 * 1000;

// The session's own lock_timeout is kept when it is lower.
int capped_timeout_ms() {
  return (LockTimeout > 0 && LockTimeout < guc_lock_timeout_ms) ? LockTimeout
                                                                : guc_lock_timeout_ms;
}

void set_lock_timeout(int ms) {
  char value[32];
  snprintf(value, sizeof value, "%d", ms);
  (void) set_config_option("lock_timeout", value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                           true, 0, false);
}

void run_with_timeout(int ms, void (*run)(void *), void *arg) {
  int nest_level = NewGUCNestLevel();
  set_lock_timeout(ms);
  run(arg);
  AtEOXact_GUC(true, nest_level);
}

// For a statement that commits internally (VACUUM, CLUSTER without a table, REINDEX SCHEMA /
// DATABASE): its first internal commit would pop a setting saved for the transaction (and the
// nesting level with it), so the rest would wait uncapped.  The cap goes into the variable the
// lock manager reads, for the statement's whole run, and the value before it comes back
// however the statement ends.  (No transaction-scoped GUC change of lock_timeout is pending
// across it: SET LOCAL cannot precede these statements, they refuse transaction blocks.)
void run_with_timeout_across_commits(int ms, void (*run)(void *), void *arg) {
  const int saved = LockTimeout;
  LockTimeout = ms;
  PG_TRY();
  { run(arg); }
  PG_FINALLY();
  { LockTimeout = saved; }
  PG_END_TRY();
}

struct TimedRun {
  int ms;
  void (*run)(void *);
  void *arg;
};

void run_timed(void *arg) {
  TimedRun *t = (TimedRun *) arg;
  run_with_timeout(t->ms, t->run, t->arg);
}

void explain_lock_timeout(ErrorData *error, const CapTarget &target, int attempts,
                          int waited_ms) {
  char *blockers = describe_blockers(target.table, target.lock);
  const char *facts = psprintf(
      "zero_downtime capped lock_timeout at %d ms for the %s lock on %s (every query on the "
      "table queues behind a waiting lock); %d attempt%s over %d ms did not get it. "
      "Blocking: %s.",
      capped_timeout_ms(), zd::lock_name(target.lock), target.table, attempts,
      attempts == 1 ? "" : "s", waited_ms,
      blockers ? blockers : "no session holds a conflicting lock now");
  error->detail = error->detail ? psprintf("%s\n%s", error->detail, facts) : (char *) facts;
  const char *hint = target.retry
      ? "Run it again once those transactions have ended, or end them "
        "(SELECT pg_cancel_backend(pid)); zero_downtime.lock_retries and "
        "zero_downtime.lock_retry_budget set how long it keeps trying."
      : target.why_no_retry != nullptr
          ? target.why_no_retry
          : "Inside a transaction block zero_downtime does not retry: run the statement on its "
            "own (autocommit) to have it retried, or once those transactions have ended.";
  error->hint = error->hint ? psprintf("%s\n%s", error->hint, hint) : (char *) hint;
}

}  // namespace

bool lock_cap_applies(zd::Lock lock) {
  return zd::blocks_application(lock) && guc_mode == kModeEnforce;
}

namespace {

// Set while a capped statement runs: what it runs below it (CREATE TABLE's foreign keys, run
// as an ALTER TABLE subcommand; a CREATE SCHEMA's elements) is capped by it already, and
// retried with it, not on its own.
bool in_capped_statement = false;

void run_capped(const CapTarget &target, void (*run)(void *), void *arg);

}  // namespace

void run_with_lock_cap(const CapTarget &target, void (*run)(void *), void *arg) {
  if (!lock_cap_applies(target.lock) || in_capped_statement) {
    run(arg);
    return;
  }
  in_capped_statement = true;
  PG_TRY();
  { run_capped(target, run, arg); }
  PG_FINALLY();
  { in_capped_statement = false; }
  PG_END_TRY();
}

namespace {

void run_capped(const CapTarget &target, void (*run)(void *), void *arg) {
  // The common case, a harmless ALTER on a table nobody holds a conflicting lock on: with its
  // only lock granted at once the statement cannot queue, so there is nothing to cap or retry
  // (and no subtransaction to pay for).  The lock is kept to the end of the transaction, as the
  // statement would keep it.
  if (OidIsValid(target.sole_relid) &&
      ConditionalLockRelationOid(target.sole_relid, (LOCKMODE) target.lock)) {
    run(arg);
    return;
  }
  const int timeout = capped_timeout_ms();
  if (target.retries_need_fresh_tree != nullptr) *target.retries_need_fresh_tree = true;
  if (!target.subtransaction) {
    run_with_timeout_across_commits(timeout, run, arg);
    return;
  }
  const int attempts = target.retry ? guc_lock_retries + 1 : 1;
  // Each failed attempt made the application queue for up to `timeout`; waiting at least as
  // long before the next one lets that queue drain, so stalls never follow each other.
  int backoff_ms = Max(kMinBackoffMs, timeout), slept_ms = 0;
  const TimestampTz start = GetCurrentTimestamp();
  for (int attempt = 1;; attempt++) {
    TimedRun timed{timeout, run, arg};
    ErrorData *error = run_in_subtransaction(run_timed, &timed);
    if (error == nullptr) return;
    if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE) ReThrowError(error);
    // Jitter: a random wait in [backoff, 1.5 backoff], so retrying sessions spread out.
    int sleep = backoff_ms + (int) pg_prng_uint64_range(&pg_global_prng_state, 0,
                                                        (uint64) backoff_ms / 2);
    // The budget is for the waits between attempts; the report says the whole time spent,
    // the lock waits included.
    if (attempt >= attempts || slept_ms + sleep > guc_lock_retry_budget_ms) {
      const int waited_ms =
          (int) Min(TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()), INT_MAX);
      explain_lock_timeout(error, target, attempt, waited_ms);
      ReThrowError(error);
    }
    ereport(NOTICE, (errmsg("zero_downtime: %s lock on %s not granted within %d ms; retry %d of "
                            "%d in %d ms",
                            zd::lock_name(target.lock), target.table, timeout, attempt,
                            attempts - 1, sleep)));
    stats_count(target.rule, kStatLockRetries);
    sleep_ms(sleep);
    slept_ms += sleep;
    backoff_ms = Min(backoff_ms * 2, Max(kMaxBackoffMs, timeout));
  }
}

}  // namespace

}  // namespace zd::pg
