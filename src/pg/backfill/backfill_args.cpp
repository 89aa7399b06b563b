// zd_backfill's arguments: read, checked, and turned into plain values.  Bad input is refused
// here, before anything runs.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace zd::pg::backfill {
namespace {

// The procedure's parameters, in order (sql/zero_downtime--1.0.sql).
enum Arg {
  kRelation, kSetClause, kWhereClause, kName, kBatchSize, kTargetBatchDuration, kPause,
  kLockTimeout, kMaxReplicaLag, kMaxRetries, kProgressInterval
};

const char *const kArgNames[] = {
    "relation", "set_clause", "where_clause", "name", "batch_size", "target_batch_duration",
    "pause", "lock_timeout", "max_replica_lag", "max_retries", "progress_interval"};

[[noreturn]] void refuse_null(int arg, const char *hint) {
  ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                  errmsg("zd_backfill: %s must not be NULL", kArgNames[arg]), errhint("%s", hint)));
  pg_unreachable();
}

const char *text_arg(FunctionCallInfo fcinfo, int arg, const char *hint) {
  if (PG_ARGISNULL(arg)) refuse_null(arg, hint);
  char *value = text_to_cstring(PG_GETARG_TEXT_PP(arg));
  bool blank = true;
  for (const char *c = value; *c; c++)
    if (!isspace((unsigned char) *c)) blank = false;
  if (blank)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("zd_backfill: %s must not be empty", kArgNames[arg]), errhint("%s", hint)));
  return value;
}

int int_arg(FunctionCallInfo fcinfo, int arg, int min, int max) {
  if (PG_ARGISNULL(arg))
    refuse_null(arg, psprintf("Leave %s out to use its default.", kArgNames[arg]));
  int value = PG_GETARG_INT32(arg);
  if (value < min || value > max)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("zd_backfill: %s must be between %d and %d, not %d", kArgNames[arg],
                           min, max, value)));
  return value;
}

// "250 ms", "2 s", "1 h": the bounds of a duration, as a person reads them.
const char *format_ms(int ms) {
  if (ms >= 3600 * 1000 && ms % (3600 * 1000) == 0) return psprintf("%d h", ms / (3600 * 1000));
  if (ms >= 1000 && ms % 1000 == 0) return psprintf("%d s", ms / 1000);
  return psprintf("%d ms", ms);
}

// An interval as milliseconds: -1 for NULL where NULL means "not set".  Months count 30 days.
int interval_ms_arg(FunctionCallInfo fcinfo, int arg, bool null_allowed, int min_ms,
                    int max_ms) {
  if (PG_ARGISNULL(arg)) {
    if (null_allowed) return -1;
    refuse_null(arg, psprintf("Leave %s out to use its default.", kArgNames[arg]));
  }
  Interval *iv = PG_GETARG_INTERVAL_P(arg);
  const double us = (double) iv->time + (double) iv->day * USECS_PER_DAY +
                    (double) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
  const double ms = us / 1000.0;
  if (ms < min_ms || ms > max_ms)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("zd_backfill: %s must be between %s and %s, not %s",
                           kArgNames[arg], format_ms(min_ms), format_ms(max_ms),
                           DatumGetCString(DirectFunctionCall1(interval_out,
                                                               IntervalPGetDatum(iv))))));
  return (int) ms;
}

void check_relation(Oid relid) {
  char kind = get_rel_relkind(relid);
  if (kind == RELKIND_RELATION) return;
  if (kind == RELKIND_PARTITIONED_TABLE)
    ereport(ERROR,
            (errcode(ERRCODE_WRONG_OBJECT_TYPE),
             errmsg("zd_backfill: %s is a partitioned table", get_rel_name(relid)),
             errdetail("Batches are ranges of heap blocks, and a partitioned table has none of "
                       "its own: its rows are in its partitions."),
             errhint("Backfill each leaf partition; this lists the calls:\n"
                     "SELECT format('CALL zd_backfill(%%L, set_clause => ..., where_clause => "
                     "...);', relid) FROM pg_partition_tree(%s) WHERE isleaf;",
                     quote_literal_cstr(get_rel_name(relid)))));
  if (kind == '\0')
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("zd_backfill: relation with OID %u does not exist", relid)));
  ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                  errmsg("zd_backfill: %s is not a table", get_rel_name(relid)),
                  errdetail("zd_backfill updates the rows of a plain table.")));
}

}  // namespace

const Args *read_args(FunctionCallInfo fcinfo) {
  Args *a = (Args *) palloc0(sizeof(Args));
  a->schema = get_func_namespace(fcinfo->flinfo->fn_oid);
  a->role = GetUserId();
  if (PG_ARGISNULL(kRelation))
    refuse_null(kRelation, "Name the table: CALL zd_backfill('my_table', ...).");
  a->relid = PG_GETARG_OID(kRelation);
  check_relation(a->relid);
  a->relation = quote_qualified_identifier(get_namespace_name(get_rel_namespace(a->relid)),
                                           get_rel_name(a->relid));
  a->set_clause = text_arg(fcinfo, kSetClause,
                           "Give the assignments of an UPDATE's SET list: set_clause => "
                           "'new_col = old_col * 2'.");
  a->where_clause = text_arg(
      fcinfo, kWhereClause,
      "Give a condition that is true for rows still to do and false once a row is done, "
      "e.g. where_clause => 'new_col IS NULL' or 'new_col IS DISTINCT FROM old_col * 2'. "
      "It is how batches skip finished rows and how rows moved by concurrent updates are "
      "found again.");
  if (PG_ARGISNULL(kName)) {
    // The same table and clauses get the same name, so calling again resumes.
    char *key = psprintf("%s\n%s", a->set_clause, a->where_clause);
    uint32 hash = DatumGetUInt32(hash_any((const unsigned char *) key, (int) strlen(key)));
    a->name = psprintf("%s/%08x", get_rel_name(a->relid), hash);
  } else {
    a->name = text_arg(fcinfo, kName, "Leave name out to have one made from the table and clauses.");
    if (strlen(a->name) > 200)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("zd_backfill: name must be at most 200 bytes")));
  }
  a->batch_rows = int_arg(fcinfo, kBatchSize, 1, 100000000);
  a->target_ms = interval_ms_arg(fcinfo, kTargetBatchDuration, true, 1, 3600 * 1000);
  a->pause_ms = interval_ms_arg(fcinfo, kPause, false, 0, 3600 * 1000);
  a->lock_timeout_ms = interval_ms_arg(fcinfo, kLockTimeout, false, 1, 3600 * 1000);
  a->max_replica_lag_ms = interval_ms_arg(fcinfo, kMaxReplicaLag, true, 1, 24 * 3600 * 1000);
  a->max_retries = int_arg(fcinfo, kMaxRetries, 0, 1000);
  a->progress_interval_ms = interval_ms_arg(fcinfo, kProgressInterval, false, 0, 24 * 3600 * 1000);
  return a;
}

}  // namespace zd::pg::backfill
