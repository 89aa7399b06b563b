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

void define_gucs();

}  // namespace zd::pg
