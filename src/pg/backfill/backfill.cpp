// CALL zd_backfill(relation, set_clause, where_clause, ...): fills a column on a live table in
// batches, each its own transaction, so no row stays locked longer than one batch.
//
// A batch is a range of heap blocks (a TID range scan): any table works, with or without a
// key, and every batch reads only its blocks.  Passes repeat over the whole table until one
// updates no row: a row an application update moved behind the scan, or inserted, is found
// again as long as where_clause still matches it.  Each batch commits together with its
// position in zd_backfill_state, so after a cancel, a termination or a crash the same call
// resumes where the last committed batch ended.
#include "pg/backfill/backfill.hpp"

#include "core/backfill_pacing.hpp"
#include "pg/boundary.hpp"
#include "pg/guc.hpp"
#include "pg/subtransaction.hpp"

extern "C" {
#include "access/table.h"
#include "access/xlog.h"
#include "common/pg_prng.h"
#include "nodes/parsenodes.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

namespace zd::pg::backfill {
namespace {

// A pass that still updates rows after this many is reported, not repeated: where_clause
// keeps matching (an application still writing such rows, or a set_clause that does not make
// where_clause false).
const int kMaxPasses = 5;
// At most 1 GB of heap per batch, however fast batches run.
const int64 kMaxBatchBlocks = 131072;

struct TableSize {
  int64 blocks;
  double rows_per_block;  // from the last ANALYZE; 0 when never analyzed
};

TableSize table_size(Oid relid) {
  Relation rel = table_open(relid, AccessShareLock);
  TableSize t{(int64) RelationGetNumberOfBlocks(rel), 0};
  if (rel->rd_rel->relpages > 0 && rel->rd_rel->reltuples > 0)
    t.rows_per_block = rel->rd_rel->reltuples / rel->rd_rel->relpages;
  table_close(rel, NoLock);
  return t;
}

double elapsed_ms(instr_time start) {
  instr_time now;
  INSTR_TIME_SET_CURRENT(now);
  INSTR_TIME_SUBTRACT(now, start);
  return INSTR_TIME_GET_MILLISEC(now);
}

bool is_retryable(int sqlerrcode) {
  return sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
         sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
         sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

struct Batch {
  const Args *args;
  SPIPlanPtr plan;
  Position before;
  Position after;  // set when the batch succeeded
  BlockNumber first;
  BlockNumber end;
};

// One batch, inside a subtransaction: the rows, then the position, committed together.
void run_batch(void *arg) {
  Batch *b = (Batch *) arg;
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%d", b->args->lock_timeout_ms);
  (void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                           true, 0, false);
  const uint64 rows = run_update(b->plan, b->first, b->end);
  Position p = b->before;
  p.next_block = b->end;
  p.pass_rows += (int64) rows;
  p.rows_done += (int64) rows;
  p.run_rows += (int64) rows;
  p.run_blocks += (int64) (b->end - b->first);
  p.batches++;
  save_position(b->args, &p, "running");
  b->after = p;
}

const char *resume_hint(const Args *a) {
  return psprintf("Its progress is kept: CALL zd_backfill(%s, %s, %s, name => %s) continues "
                  "from the last committed batch.",
                  quote_literal_cstr(a->relation), quote_literal_cstr(a->set_clause),
                  quote_literal_cstr(a->where_clause), quote_literal_cstr(a->name));
}

// Runs the batch, retrying deadlocks, serialization failures and lock timeouts with backoff.
// Any other error, or retries run out: the failure is recorded (progress kept) and re-raised.
void run_batch_with_retries(Batch *b, Position *pos) {
  const Args *a = b->args;
  for (int retry = 0;; retry++) {
    b->before = *pos;
    ErrorData *error = run_in_subtransaction(run_batch, b);
    if (error == nullptr) {
      *pos = b->after;
      return;
    }
    if (error->sqlerrcode == ERRCODE_QUERY_CANCELED) ReThrowError(error);  // progress is kept
    if (is_retryable(error->sqlerrcode) && retry < a->max_retries) {
      const int wait = zd::retry_wait_ms(retry + 1, pg_prng_double(&pg_global_prng_state));
      ereport(NOTICE, (errmsg("zd_backfill \"%s\": blocks %u to %u: %s; retry %d of %d in %d ms",
                              a->name, b->first, b->end - 1, error->message, retry + 1,
                              a->max_retries, wait)));
      pos->retries++;
      save_position(a, pos, "running");  // the retry shows in zd_backfill_progress at once
      SPI_commit();
      sleep_ms(wait);
      continue;
    }
    save_failure(a, pos, error->message);
    SPI_commit();
    const char *facts = psprintf(
        "zd_backfill \"%s\" stopped at pass %d, block %ld of %ld, after %ld rows in %ld "
        "batches%s.",
        a->name, pos->pass, (long) pos->next_block, (long) pos->end_block, (long) pos->rows_done,
        (long) pos->batches,
        is_retryable(error->sqlerrcode) ? psprintf(" and %d retries of this batch", retry) : "");
    error->detail = error->detail ? psprintf("%s\n%s", error->detail, facts) : (char *) facts;
    error->hint = error->hint ? psprintf("%s\n%s", error->hint, resume_hint(a))
                              : (char *) resume_hint(a);
    ReThrowError(error);
  }
}

// Waits while a standby's replay lag is over max_replica_lag; visible as 'waiting for replica'.
void wait_for_replicas(const Args *a, const Position *pos, UnreplayedWrites *writes) {
  if (a->max_replica_lag_ms < 0) return;
  int64 lag = replica_lag_ms(a, writes);
  if (lag <= a->max_replica_lag_ms) return;
  save_position(a, pos, "waiting for replica");
  SPI_commit();
  ereport(NOTICE, (errmsg("zd_backfill \"%s\": a standby's replay lag is %ld ms, over "
                          "max_replica_lag (%d ms); waiting",
                          a->name, (long) lag, a->max_replica_lag_ms)));
  instr_time start;
  INSTR_TIME_SET_CURRENT(start);
  while (lag > a->max_replica_lag_ms) {
    sleep_ms(200);
    lag = replica_lag_ms(a, writes);
  }
  ereport(NOTICE, (errmsg("zd_backfill \"%s\": standbys caught up after %.0f ms; going on",
                          a->name, elapsed_ms(start))));
}

void report_progress(const Args *a, const Position *pos, instr_time run_start) {
  const double seconds = elapsed_ms(run_start) / 1000.0;
  const double blocks_per_s = seconds > 0 ? pos->run_blocks / seconds : 0;
  ereport(NOTICE,
          (errmsg("zd_backfill \"%s\": pass %d, block %ld of %ld (%.1f%%), %ld rows (%.0f rows/s), "
                  "about %.0f s left in this pass",
                  a->name, pos->pass, (long) pos->next_block, (long) pos->end_block,
                  100.0 * pos->next_block / Max(pos->end_block, 1), (long) pos->rows_done,
                  seconds > 0 ? pos->run_rows / seconds : 0,
                  blocks_per_s > 0 ? (pos->end_block - pos->next_block) / blocks_per_s : 0)));
}

void run_batches(const Args *a, SPIPlanPtr plan) {
  Position pos = {};
  const bool exists = load_state(a, &pos);
  if (!exists) pos.pass = 1;
  const TableSize size = table_size(a->relid);
  const int64 first_blocks = zd::first_batch_blocks(a->batch_rows, size.rows_per_block);
  const bool fresh = !exists || (pos.pass == 1 && pos.next_block == 0);
  if (fresh) pos.end_block = size.blocks;
  if (!exists || pos.batch_blocks <= 0 || a->target_ms < 0) pos.batch_blocks = first_blocks;
  start_state(a, &pos, exists);
  SPI_commit();
  if (fresh)
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": %s %s, %ld blocks, batches of %ld blocks to "
                            "start with",
                            a->name, exists ? "starting over on" : "starting on", a->relation,
                            (long) pos.end_block, (long) pos.batch_blocks)));
  else
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": resuming at pass %d, block %ld of %ld (%ld rows "
                            "done before)",
                            a->name, pos.pass, (long) pos.next_block, (long) pos.end_block,
                            (long) pos.rows_done)));

  MemoryContext outer = CurrentMemoryContext;
  MemoryContext per_batch =
      AllocSetContextCreate(outer, "zd_backfill batch", ALLOCSET_DEFAULT_SIZES);
  UnreplayedWrites *writes = (UnreplayedWrites *) palloc0(sizeof(UnreplayedWrites));
  const char *stopped = nullptr;  // why it stopped with rows still matching (in per_batch)
  instr_time run_start, last_report;
  INSTR_TIME_SET_CURRENT(run_start);
  last_report = run_start;
  for (;;) {
    MemoryContextSwitchTo(per_batch);
    MemoryContextReset(per_batch);
    if (pos.next_block >= pos.end_block) {
      if (pos.pass_rows == 0) break;
      if (pos.pass >= kMaxPasses) {
        stopped = psprintf("pass %d still updated %ld rows; stopped after %d passes", pos.pass,
                           (long) pos.pass_rows, kMaxPasses);
        ereport(WARNING,
                (errmsg("zd_backfill \"%s\": pass %d still updated %ld rows; stopping", a->name,
                        pos.pass, (long) pos.pass_rows),
                 errdetail("Each pass looks again for rows that match where_clause. Rows keep "
                           "matching it: an application still writes such rows, or set_clause "
                           "does not make where_clause false."),
                 errhint("Find what keeps matching (SELECT ... WHERE %s), then CALL "
                         "zd_backfill(%s, %s, %s, name => %s) again: it makes a fresh pass.",
                         a->where_clause, quote_literal_cstr(a->relation),
                         quote_literal_cstr(a->set_clause), quote_literal_cstr(a->where_clause),
                         quote_literal_cstr(a->name))));
        break;
      }
      pos.pass++;
      pos.next_block = 0;
      pos.pass_rows = 0;
      pos.end_block = table_size(a->relid).blocks;
      ereport(DEBUG1, (errmsg("zd_backfill \"%s\": pass %d over %ld blocks", a->name, pos.pass,
                              (long) pos.end_block)));
      continue;
    }
    wait_for_replicas(a, &pos, writes);
    Batch b{a, plan, pos, pos, (BlockNumber) pos.next_block,
            (BlockNumber) Min(pos.next_block + pos.batch_blocks, pos.end_block)};
    instr_time start;
    INSTR_TIME_SET_CURRENT(start);
    run_batch_with_retries(&b, &pos);
    SPI_commit();
    if (a->max_replica_lag_ms >= 0) note_write(writes, XactLastCommitEnd, GetCurrentTimestamp());
    const double took_ms = elapsed_ms(start);
    ereport(DEBUG1, (errmsg("zd_backfill \"%s\": pass %d, blocks %u to %u in %.1f ms; %ld rows "
                            "this pass", a->name, pos.pass, b.first, b.end - 1, took_ms,
                            (long) pos.pass_rows)));
    // The first pass updates most rows: its batches stay within 4 x batch_size rows at the
    // table's density, so a dense stretch after sparse ones cannot make one huge batch.  Later
    // passes mostly read, and may grow up to the 1 GB cap.
    const int64 cap = pos.pass == 1 ? Min(4 * first_blocks, kMaxBatchBlocks) : kMaxBatchBlocks;
    pos.batch_blocks = zd::next_batch_blocks(pos.batch_blocks, took_ms, a->target_ms, cap);
    if (a->progress_interval_ms > 0 && elapsed_ms(last_report) >= a->progress_interval_ms) {
      report_progress(a, &pos, run_start);
      INSTR_TIME_SET_CURRENT(last_report);
    }
    if (a->pause_ms > 0) sleep_ms(a->pause_ms);
  }
  MemoryContextSwitchTo(outer);
  save_done(a, &pos, stopped);
  MemoryContextDelete(per_batch);
  SPI_commit();
  const double seconds = elapsed_ms(run_start) / 1000.0;
  ereport(NOTICE, (errmsg("zd_backfill \"%s\": done: %ld rows in %ld batches over %d pass%s, "
                          "%.1f s (%.0f rows/s), %ld retries",
                          a->name, (long) pos.rows_done, (long) pos.batches, pos.pass,
                          pos.pass == 1 ? "" : "es", seconds,
                          seconds > 0 ? pos.run_rows / seconds : 0, (long) pos.retries)));
}

// Called where nothing can commit (a transaction block, a function, a DO block): one UPDATE if
// the table is small, else a refusal that says how to call it.
void run_in_one_statement(const Args *a, SPIPlanPtr plan) {
  const int64 bytes = table_size(a->relid).blocks * BLCKSZ;
  const int64 small = (int64) guc_small_table_size_kb * 1024;
  if (bytes >= small) {
    char *size = text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
                                                                     Int64GetDatum(bytes))));
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
             errmsg("zd_backfill: cannot commit its batches here, and %s (%s) is not a small "
                    "table", a->relation, size),
             errdetail("zd_backfill commits after every batch so that no row stays locked "
                       "longer than one batch. Inside BEGIN ... COMMIT, or called from a "
                       "function (or a DO block inside a transaction), nothing commits until the "
                       "caller does. Only tables under zero_downtime.small_table_size are done "
                       "here, in one UPDATE."),
             errhint("CALL it on its own, in autocommit: in psql outside BEGIN/COMMIT; in a "
                     "Knex migration with exports.config = { transaction: false }; in "
                     "node-pg-migrate after pgm.noTransaction(); with Prisma Migrate or Drizzle "
                     "Kit, from psql after the migration that added the column.")));
  }
  const uint64 rows = run_update(plan, 0, InvalidBlockNumber);
  ereport(NOTICE, (errmsg("zd_backfill: %s is small (under zero_downtime.small_table_size): "
                          "updated %lu rows in one statement, committed with the caller's "
                          "transaction",
                          a->relation, (unsigned long) rows)));
}

// One run per name at a time: the name's lock is held for the whole run.
void run_named(const Args *a, SPIPlanPtr plan) {
  lock_name(a->name);
  PG_TRY();
  { run_batches(a, plan); }
  PG_FINALLY();
  { release_name_lock(a->name); }
  PG_END_TRY();
}

}  // namespace

}  // namespace zd::pg::backfill

ZD_SQL_FUNCTION(zd_backfill) {
  using namespace zd::pg::backfill;
  const Args *args = read_args(fcinfo);
  const bool nonatomic = fcinfo->context != nullptr && IsA(fcinfo->context, CallContext) &&
                         !((CallContext *) fcinfo->context)->atomic;
  if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
    elog(ERROR, "zd_backfill: SPI_connect failed");
  SPIPlanPtr plan = prepare_update(args);
  // The plan is kept in the plan cache across commits: free it however this ends.
  PG_TRY();
  {
    if (!nonatomic) {
      run_in_one_statement(args, plan);
    } else {
      run_named(args, plan);
    }
  }
  PG_CATCH();
  {
    SPI_freeplan(plan);
    PG_RE_THROW();
  }
  PG_END_TRY();
  SPI_freeplan(plan);
  SPI_finish();
  PG_RETURN_VOID();
}
