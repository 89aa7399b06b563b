#include "pg/stats.hpp"

#include "core/rule_catalog.hpp"
#include "pg/boundary.hpp"

extern "C" {
#include "funcapi.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

namespace zd::pg {
namespace {

// kStatKinds counters per row; one row per rule, plus one for "lock-cap".
const char *const kLockCapRow = "lock-cap";
pg_atomic_uint64 *shared = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

size_t rows() { return zd::kRuleCount + 1; }
// The counters, then one more: the deferred failures of all rules (read by every guarded
// statement: one atomic, not a sum over the rules).
size_t shared_size() { return sizeof(pg_atomic_uint64) * (rows() * kStatKinds + 1); }
pg_atomic_uint64 *all_deferred_failures() { return &shared[rows() * kStatKinds]; }

pg_atomic_uint64 *counter(size_t row, int kind) {
  return &shared[row * kStatKinds + kind];
}

extern "C" void zd_shmem_request(void) {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(shared_size());
}

extern "C" void zd_shmem_startup(void) {
  if (prev_shmem_startup) prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  shared = (pg_atomic_uint64 *) ShmemInitStruct("zero_downtime rule stats", shared_size(), &found);
  if (!found)
    for (size_t r = 0; r < rows(); r++)
      for (int k = 0; k < kStatKinds; k++) pg_atomic_init_u64(counter(r, k), 0);
  if (!found) pg_atomic_init_u64(all_deferred_failures(), 0);
  LWLockRelease(AddinShmemInitLock);
}

size_t row_of(const char *rule) {
  for (size_t i = 0; i < zd::kRuleCount; i++)
    if (strcmp(zd::kRules[i].name, rule) == 0) return i;
  return zd::kRuleCount;  // lock-cap
}

void require_shared() {
  if (shared == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("zero_downtime: rule counters need the library in "
                           "shared_preload_libraries"),
                    errhint("Add zero_downtime to shared_preload_libraries and restart.")));
}

}  // namespace

void stats_install_hooks() {
  prev_shmem_request = shmem_request_hook;
  shmem_request_hook = zd_shmem_request;
  prev_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = zd_shmem_startup;
}

void stats_count(const char *rule, StatKind kind) {
  if (shared == nullptr) return;
  pg_atomic_fetch_add_u64(counter(row_of(rule), kind), 1);
  if (kind == kStatDeferredFailed) pg_atomic_fetch_add_u64(all_deferred_failures(), 1);
}

uint64 stats_deferred_failures() {
  return shared != nullptr ? pg_atomic_read_u64(all_deferred_failures()) : 0;
}

}  // namespace zd::pg

// zd_rule_stats(): one row per rule, and one for the lock cap of statements no rule fired on.
ZD_SQL_FUNCTION(zd_rule_stats) {
  using namespace zd::pg;
  require_shared();
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  for (size_t r = 0; r < rows(); r++) {
    Datum values[1 + kStatKinds];
    bool nulls[1 + kStatKinds] = {false};
    values[0] = CStringGetTextDatum(r < zd::kRuleCount ? zd::kRules[r].name : kLockCapRow);
    for (int k = 0; k < kStatKinds; k++)
      values[1 + k] = Int64GetDatum((int64) pg_atomic_read_u64(counter(r, k)));
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum) 0;
}

// zd_rule_stats_reset(): sets every counter to zero.
ZD_SQL_FUNCTION(zd_rule_stats_reset) {
  using namespace zd::pg;
  require_shared();
  for (size_t r = 0; r < rows(); r++)
    for (int k = 0; k < kStatKinds; k++) pg_atomic_write_u64(counter(r, k), 0);
  PG_RETURN_VOID();
}
