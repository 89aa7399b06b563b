// Test support for the C++/PostgreSQL boundary.  The SQL functions here are not created by
// the extension's install script: the tests create them (CREATE FUNCTION ... AS
// 'zero_downtime', 'zd_test_throw'), so production databases never expose them.
#include "pg/selftest.hpp"

#include "core/zd_error.hpp"
#include "pg/boundary.hpp"
#include "pg/guc.hpp"

extern "C" {
#include "utils/builtins.h"
}

#include <new>
#include <stdexcept>
#include <string>

namespace zd::pg {
namespace {

// Counts live instances, so a test can prove that destructors ran when an error crossed.
int live_probes = 0;

struct DestructorProbe {
  DestructorProbe() { ++live_probes; }
  ~DestructorProbe() { --live_probes; }
  DestructorProbe(const DestructorProbe &) = delete;
  DestructorProbe &operator=(const DestructorProbe &) = delete;
};

[[noreturn]] void raise_pg_division_by_zero() {
  call_pg([] { DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
  throw std::logic_error("int4div(1, 0) returned");
}

void throw_fault(int fault) {
  DestructorProbe probe;
  std::string owned_text = "a heap-allocated string that must be freed";
  switch (fault) {
    case kFaultCppException:
      throw std::runtime_error("debug_fault: injected C++ exception");
    case kFaultBadAlloc:
      throw std::bad_alloc();
    case kFaultZdError:
      throw ZdError("ZD999", "debug_fault: injected zero_downtime error",
                    "The detail of the injected error.", "The hint of the injected error.");
    case kFaultPgError:
      raise_pg_division_by_zero();
    default:
      break;
  }
}

}  // namespace

void inject_debug_fault(int fault) { throw_fault(fault); }

}  // namespace zd::pg

// zd_test_throw(kind text): throws the named fault from an SQL-callable function.
ZD_SQL_FUNCTION(zd_test_throw) {
  char *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
  int fault = zd::pg::kFaultNone;
  if (strcmp(kind, "cpp_exception") == 0) fault = zd::pg::kFaultCppException;
  else if (strcmp(kind, "bad_alloc") == 0) fault = zd::pg::kFaultBadAlloc;
  else if (strcmp(kind, "zd_error") == 0) fault = zd::pg::kFaultZdError;
  else if (strcmp(kind, "pg_error") == 0) fault = zd::pg::kFaultPgError;
  else if (strcmp(kind, "unknown") == 0) throw 42;  // not a std::exception at all
  else if (strcmp(kind, "none") != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("zd_test_throw: unknown fault \"%s\"", kind)));
  zd::pg::inject_debug_fault(fault);
  PG_RETURN_VOID();
}

// zd_test_live_probes(): how many DestructorProbe objects are alive (0 unless a leak).
ZD_SQL_FUNCTION(zd_test_live_probes) { PG_RETURN_INT32(zd::pg::live_probes); }
