// Every zero_downtime.* setting.  Settings that could weaken the guard are PGC_SUSET: only a
// superuser, or a role granted SET on that parameter (GRANT SET ON PARAMETER), can change them,
// whether by SET, PGOPTIONS or ALTER ROLE/DATABASE ... SET.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// zero_downtime.mode
enum GuardMode { kModeOff = 0, kModeWarn = 1, kModeEnforce = 2 };

// Faults the boundary tests inject into the hook (zero_downtime.debug_fault, hidden).
enum DebugFault {
  kFaultNone = 0,
  kFaultCppException,  // std::runtime_error thrown in the decide step
  kFaultBadAlloc,      // std::bad_alloc thrown in the decide step
  kFaultZdError,       // ZdError with SQLSTATE, detail and hint
  kFaultPgError,       // a PostgreSQL ERROR raised under C++ objects, via call_pg
};

extern int guc_mode;
extern int guc_debug_fault;
extern int guc_small_table_size_kb;  // zero_downtime.small_table_size
extern int guc_lock_timeout_ms;      // zero_downtime.lock_timeout
extern int guc_lock_retries;         // zero_downtime.lock_retries
extern int guc_lock_retry_budget_ms; // zero_downtime.lock_retry_budget
extern bool guc_defer_in_transaction;  // zero_downtime.defer_in_transaction
extern char *guc_client_version;       // zero_downtime.client_version ("": not stated)
extern int guc_contract_quiet_period_s;  // zero_downtime.contract_quiet_period
extern bool guc_track_new_tables;        // zero_downtime.track_new_tables
// zero_downtime.orm_renames
enum OrmRenames { kOrmRenamesOff = 0, kOrmRenamesMigrate = 1 };
extern int guc_orm_renames;

// zero_downtime.allow, parsed once by its check hook: rule names, nullptr-terminated.
const char *const *allowed_rules();

// A check hook's work for a comma-separated list of names: parsed once (SplitIdentifierString),
// each name passed to `valid` (nullptr: any; it sets GUC_check_errdetail when it says no), into
// a nullptr-terminated array in GUC "extra" memory (ZD_GUC_MALLOC: the GUC machinery frees it).
bool check_name_list(char **newval, void **extra, bool (*valid)(const char *name));

void define_gucs();

}  // namespace zd::pg
