#include "pg/lock_cap.hpp"

#include "pg/guc.hpp"
#include "pg/pinned_sql.hpp"
#include "pg/sleep.hpp"
#include "pg/stats.hpp"
#include "pg/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
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

// "pid 123 (idle in transaction, transaction open for 00:00:12, query started ...: ...)"
char *describe_blockers(const CapTarget &target) {
  StringInfoData modes;
  initStringInfo(&modes);
  for (int l = (int) zd::Lock::AccessShare; l <= (int) zd::Lock::AccessExclusive; l++)
    if (zd::locks_conflict((zd::Lock) l, target.lock))
      appendStringInfo(&modes, "%s%s", modes.len ? "," : "{", zd::pg_locks_mode((zd::Lock) l));
  appendStringInfoChar(&modes, '}');

  // Pinned and qualified (pinned_sql.hpp), though it runs as the caller: it runs inside the
  // caller's DDL, which may be a superuser's, under a search_path the caller did not choose.
  const char *query =
      "SELECT pg_catalog.string_agg(pg_catalog.format("
      "'pid %s (%s, transaction open for %s, query started %s: %s)', "
      "a.pid, COALESCE(a.state, 'unknown state'), "
      "COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() OPERATOR(pg_catalog.-) "
      "a.xact_start)::pg_catalog.text, '?'), "
      "COALESCE(pg_catalog.to_char(a.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '?'), "
      "pg_catalog.\"left\"(COALESCE(a.query, ''), 120)), '; ' ORDER BY a.pid) "
      "FROM pg_catalog.pg_stat_activity a WHERE a.pid OPERATOR(pg_catalog.=) ANY ("
      "  SELECT l.pid FROM pg_catalog.pg_locks l"
      "  WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'"
      "    AND l.relation OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)"
      "    AND l.granted AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()"
      "    AND l.mode OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[]))";
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {CStringGetTextDatum(target.table), CStringGetTextDatum(modes.data)};
  char *result = nullptr;
  MemoryContext context = CurrentMemoryContext;
  if (SPI_connect() == SPI_OK_CONNECT) {
    if (run_pinned_sql(InvalidOid, query, 2, types, values, nullptr, true, 1) == SPI_OK_SELECT &&
        SPI_processed == 1) {
      char *text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
      if (text != nullptr) result = MemoryContextStrdup(context, text);
    }
    SPI_finish();
  }
  return result;
}

void explain_lock_timeout(ErrorData *error, const CapTarget &target, int attempts,
                          int waited_ms) {
  char *blockers = describe_blockers(target);
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
      : "Inside a transaction block zero_downtime does not retry: run the statement on its own "
        "(autocommit) to have it retried, or once those transactions have ended.";
  error->hint = error->hint ? psprintf("%s\n%s", error->hint, hint) : (char *) hint;
}

}  // namespace

bool lock_cap_applies(zd::Lock lock) {
  return zd::blocks_application(lock) && guc_mode == kModeEnforce;
}

void run_with_lock_cap(const CapTarget &target, void (*run)(void *), void *arg) {
  if (!lock_cap_applies(target.lock)) {
    run(arg);
    return;
  }
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
  if (!target.subtransaction) {
    run_with_timeout_across_commits(timeout, run, arg);
    return;
  }
  const int attempts = target.retry ? guc_lock_retries + 1 : 1;
  // Each failed attempt made the application queue for up to `timeout`; waiting at least as
  // long before the next one lets that queue drain, so stalls never follow each other.
  int waited_ms = 0, backoff_ms = Max(kMinBackoffMs, timeout);
  for (int attempt = 1;; attempt++) {
    TimedRun timed{timeout, run, arg};
    ErrorData *error = run_in_subtransaction(run_timed, &timed);
    if (error == nullptr) return;
    if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE) ReThrowError(error);
    // Jitter: a random wait in [backoff, 1.5 backoff], so retrying sessions spread out.
    int sleep = backoff_ms + (int) pg_prng_uint64_range(&pg_global_prng_state, 0,
                                                        (uint64) backoff_ms / 2);
    if (attempt >= attempts || waited_ms + sleep > guc_lock_retry_budget_ms) {
      explain_lock_timeout(error, target, attempt, waited_ms);
      ReThrowError(error);
    }
    ereport(NOTICE, (errmsg("zero_downtime: %s lock on %s not granted within %d ms; retry %d of "
                            "%d in %d ms",
                            zd::lock_name(target.lock), target.table, timeout, attempt,
                            attempts - 1, sleep)));
    stats_count(target.rule, kStatLockRetries);
    sleep_ms(sleep);
    waited_ms += sleep;
    backoff_ms = Min(backoff_ms * 2, Max(kMaxBackoffMs, timeout));
  }
}

}  // namespace zd::pg
