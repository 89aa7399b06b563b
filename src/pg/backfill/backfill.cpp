// CALL zd_backfill(relation, set_clause, where_clause, ...): fills a column on a live table in
// batches, each its own transaction, so no row stays locked longer than one batch.
//
// A pass's batch is a range of heap blocks (a TID range scan): any table works, with or
// without a key, and every batch reads only its blocks.  The backfill is a series of rounds,
// each decided by one read of the rows still matching where_clause under one snapshot:
//   - none match: done.  At that snapshot no row was left to do.
//   - many match (batch_size or more): a pass over the whole table in block ranges.
//   - a few match (rows the application moved behind a pass, or wrote meanwhile): those row
//     versions (TID and xmin) are updated one by one.  If every one was updated and no longer
//     matches, every row that matched at the read's snapshot is done: finished.  If one was
//     gone (the application updated or deleted it since) or still matches, read again.
// A pass alone cannot prove it is done: while it runs, the application may move a row it has
// not reached yet into a block it has already done, and a pass that updates nothing can still
// have missed such a row.  The read under one snapshot cannot.  Each batch commits together
// with its position in zd_backfill_state, so after a cancel, a termination or a crash the
// same call resumes where the last committed batch ended.
#include "pg/backfill/backfill.hpp"
#include "pg/deferral.hpp"

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

// Rows still match after this many rounds: reported, not repeated.  where_clause keeps
// matching (an application still writing such rows, or a set_clause that does not make
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

// A batch: a range of a pass, or some of the rows a read found.  Either way one transaction.
struct Batch {
  const Args *args;
  const Statements *statements;
  BlockNumber first;       // a pass's batch: blocks [first, end)
  BlockNumber end;
  const RowVersion *rows;  // else these row versions
  int row_count;
  Position before;
  Position after;          // set when the batch succeeded
  int unproven;            // rows it could not prove done: gone, or still matching
};

const char *describe(const Batch *b) {
  return b->rows == nullptr ? psprintf("blocks %u to %u", b->first, b->end - 1)
                            : psprintf("%d rows found by the read", b->row_count);
}

// One batch, inside a subtransaction: the rows, then the position, committed together.
void run_batch(void *arg) {
  Batch *b = (Batch *) arg;
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%d", b->args->lock_timeout_ms);
  (void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                           true, 0, false);
  Position p = b->before;
  int64 rows = 0;
  int unproven = 0;
  if (b->rows == nullptr) {
    rows = (int64) run_update(b->statements->update, b->first, b->end);
    p.next_block = b->end;
    p.run_blocks += (int64) (b->end - b->first);
  } else {
    for (int i = 0; i < b->row_count; i++) {
      const RowUpdate done = run_update_row(b->statements->update_row, &b->rows[i]);
      if (done != RowUpdate::kGone) rows++;
      if (done != RowUpdate::kDone) unproven++;
    }
  }
  p.pass_rows += rows;
  p.rows_done += rows;
  p.run_rows += rows;
  p.batches++;
  save_position(b->args, &p, "running");
  b->after = p;
  b->unproven = unproven;
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
      ereport(NOTICE, (errmsg("zd_backfill \"%s\": %s: %s; retry %d of %d in %d ms", a->name,
                              describe(b), error->message, retry + 1, a->max_retries, wait)));
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

// A backfill under way in this call.
struct Run {
  const Args *a;
  Statements statements;
  Position pos;
  int64 max_batch_blocks;    // batches stay within 4 x batch_size rows at the table's density
  MemoryContext per_batch;
  UnreplayedWrites *writes;
  instr_time started;
  instr_time last_report;
};

// Runs one batch, over blocks [first, end) of a pass or, when rows is set, over those row
// versions, committed; then the next batch's size from this one's duration, a progress line
// when due, and the pause.  Returns how many of its rows it could not prove done.
int run_paced_batch(Run *r, BlockNumber first, BlockNumber end, const RowVersion *rows,
                    int row_count) {
  const Args *a = r->a;
  MemoryContext caller = MemoryContextSwitchTo(r->per_batch);
  wait_for_replicas(a, &r->pos, r->writes);
  Batch b{a, &r->statements, first, end, rows, row_count, r->pos, r->pos, 0};
  instr_time start;
  INSTR_TIME_SET_CURRENT(start);
  run_batch_with_retries(&b, &r->pos);
  SPI_commit();
  if (a->max_replica_lag_ms >= 0) note_write(r->writes, XactLastCommitEnd, GetCurrentTimestamp());
  const double took_ms = elapsed_ms(start);
  ereport(DEBUG1, (errmsg("zd_backfill \"%s\": pass %d, %s in %.1f ms; %ld rows this pass",
                          a->name, r->pos.pass, describe(&b), took_ms, (long) r->pos.pass_rows)));
  r->pos.batch_blocks =
      zd::next_batch_blocks(r->pos.batch_blocks, took_ms, a->target_ms, r->max_batch_blocks);
  if (a->progress_interval_ms > 0 && elapsed_ms(r->last_report) >= a->progress_interval_ms) {
    report_progress(a, &r->pos, r->started);
    INSTR_TIME_SET_CURRENT(r->last_report);
  }
  if (a->pause_ms > 0) sleep_ms(a->pause_ms);
  MemoryContextSwitchTo(caller);
  MemoryContextReset(r->per_batch);
  return b.unproven;
}

// Updates the row versions a read found, in batches of at most batch_blocks rows (a row costs
// at least what a block of a pass does).  Returns whether every one of them was updated and no
// longer matches where_clause.
bool update_rows(Run *r, const MatchingRows *m) {
  int unproven = 0;
  for (int64 first = 0; first < m->count;) {
    const int n = (int) Min(m->count - first, Max(r->pos.batch_blocks, 1));
    unproven += run_paced_batch(r, 0, 0, m->rows + first, n);
    first += n;
  }
  return unproven == 0;
}

// Why a backfill stops with rows still matching after kMaxPasses rounds (kept in last_error).
const char *stop_matching(const Run *r, const MatchingRows *m, int64 limit) {
  const Args *a = r->a;
  const char *rows = psprintf("%s%ld", m->count >= limit ? "at least " : "", (long) m->count);
  ereport(WARNING,
          (errmsg("zd_backfill \"%s\": %s rows still match where_clause after %d passes; "
                  "stopping",
                  a->name, rows, r->pos.pass),
           errdetail("Each pass updates the rows that match where_clause. Rows keep matching "
                     "it: an application still writes such rows, or set_clause does not make "
                     "where_clause false."),
           errhint("Find what keeps matching (SELECT ... WHERE %s), then CALL "
                   "zd_backfill(%s, %s, %s, name => %s) again: it makes a fresh pass.",
                   a->where_clause, quote_literal_cstr(a->relation),
                   quote_literal_cstr(a->set_clause), quote_literal_cstr(a->where_clause),
                   quote_literal_cstr(a->name))));
  return psprintf("%s rows still matched after %d passes; stopped", rows, r->pos.pass);
}

}  // namespace

void (*backfill_begun_hook)() = nullptr;

namespace {

void run_batches(const Args *a, Statements statements) {
  Run r{a, statements, {}, 0, nullptr, nullptr, {}, {}};
  const bool exists = load_state(a, &r.pos);
  const TableSize size = table_size(a->relid);
  const int64 first_blocks = zd::first_batch_blocks(a->batch_rows, size.rows_per_block);
  r.max_batch_blocks = Min(4 * first_blocks, kMaxBatchBlocks);
  const bool fresh = !exists || r.pos.pass == 0;
  if (!exists || r.pos.batch_blocks <= 0 || a->target_ms < 0) r.pos.batch_blocks = first_blocks;
  start_state(a, &r.pos, exists);
  SPI_commit();
  if (backfill_begun_hook != nullptr) backfill_begun_hook();
  if (fresh)
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": %s %s, %ld blocks, batches of %ld blocks to "
                            "start with",
                            a->name, exists ? "starting over on" : "starting on", a->relation,
                            (long) size.blocks, (long) r.pos.batch_blocks)));
  else
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": resuming at pass %d, block %ld of %ld (%ld rows "
                            "done before)",
                            a->name, r.pos.pass, (long) r.pos.next_block, (long) r.pos.end_block,
                            (long) r.pos.rows_done)));

  MemoryContext outer = CurrentMemoryContext;
  MemoryContext per_round =
      AllocSetContextCreate(outer, "zd_backfill round", ALLOCSET_DEFAULT_SIZES);
  r.per_batch = AllocSetContextCreate(outer, "zd_backfill batch", ALLOCSET_DEFAULT_SIZES);
  r.writes = (UnreplayedWrites *) palloc0(sizeof(UnreplayedWrites));
  // More rows than this still to do: a pass over the table costs less than their blocks one
  // by one.
  const int64 limit = a->batch_rows;
  const char *stopped = nullptr;  // why it stopped with rows still matching
  INSTR_TIME_SET_CURRENT(r.started);
  r.last_report = r.started;
  for (;;) {
    MemoryContextSwitchTo(per_round);
    MemoryContextReset(per_round);
    if (r.pos.next_block < r.pos.end_block) {  // in a pass
      run_paced_batch(&r, (BlockNumber) r.pos.next_block,
                      (BlockNumber) Min(r.pos.next_block + r.pos.batch_blocks, r.pos.end_block),
                      nullptr, 0);
      continue;
    }
    const MatchingRows m = find_matching(r.statements.find, limit);
    if (m.count == 0) break;
    if (r.pos.pass >= kMaxPasses) {
      stopped = MemoryContextStrdup(outer, stop_matching(&r, &m, limit));
      break;
    }
    r.pos.pass++;
    r.pos.pass_rows = 0;
    if (m.count >= limit) {
      r.pos.next_block = 0;
      r.pos.end_block = table_size(a->relid).blocks;
      ereport(DEBUG1, (errmsg("zd_backfill \"%s\": pass %d over %ld blocks", a->name,
                              r.pos.pass, (long) r.pos.end_block)));
      continue;
    }
    ereport(NOTICE, (errmsg("zd_backfill \"%s\": %ld rows still match where_clause; pass %d "
                            "updates them",
                            a->name, (long) m.count, r.pos.pass)));
    // Every row that matched at the read's snapshot is now updated and no longer matches:
    // done as of that snapshot.  Otherwise (the application changed one of those rows since,
    // or set_clause leaves rows matching) read again.
    if (update_rows(&r, &m)) break;
  }
  MemoryContextSwitchTo(outer);
  save_done(a, &r.pos, stopped);
  MemoryContextDelete(per_round);
  MemoryContextDelete(r.per_batch);
  SPI_commit();
  const double seconds = elapsed_ms(r.started) / 1000.0;
  ereport(NOTICE, (errmsg("zd_backfill \"%s\": done: %ld rows in %ld batch%s over %d pass%s, "
                          "%.1f s (%.0f rows/s), %ld retries",
                          a->name, (long) r.pos.rows_done, (long) r.pos.batches,
                          r.pos.batches == 1 ? "" : "es", r.pos.pass,
                          r.pos.pass == 1 ? "" : "es", seconds,
                          seconds > 0 ? r.pos.run_rows / seconds : 0, (long) r.pos.retries)));
}

// Called where nothing can commit (a transaction block, a function, a DO block): one UPDATE if
// the table is small, else a refusal that says how to call it.
void run_in_one_statement(const Args *a, SPIPlanPtr plan) {
  const int64 bytes = table_size(a->relid).blocks * BLCKSZ;
  const int64 small = (int64) guc_small_table_size_kb * 1024;
  if (bytes >= small && guc_defer_in_transaction && IsTransactionBlock() &&
      deferral_available(zd::TxContext::TransactionBlock)) {
    // In a migration tool's transaction, with zero_downtime.defer_in_transaction: queued, to
    // run in batches once the transaction has committed (what it filled the column with is
    // then visible to the backfill, its clauses checked here already).
    const char *call = call_text(a);
    queue_deferred("zd_backfill", a->relation, call, &call, 1);
    ereport(NOTICE, (errmsg("zd_backfill: %s is not small: deferred, it runs in batches after "
                            "this transaction commits",
                            a->relation),
                     errhint("SELECT * FROM zd_deferred_status shows how it goes; CALL "
                             "zd_deferred_wait(); waits for it.")));
    return;
  }
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
void run_named(const Args *a, Statements statements) {
  lock_name(a);
  PG_TRY();
  { run_batches(a, statements); }
  PG_FINALLY();
  { release_name_lock(a); }
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
  const Statements statements = prepare_statements(args);
  // The plans are kept across commits: free them however this ends.
  PG_TRY();
  {
    if (!nonatomic) {
      run_in_one_statement(args, statements.update);
    } else {
      run_named(args, statements);
    }
  }
  PG_CATCH();
  {
    free_statements(statements);
    PG_RE_THROW();
  }
  PG_END_TRY();
  free_statements(statements);
  SPI_finish();
  PG_RETURN_VOID();
}
