// Definitions of the zero_downtime.* settings (see guc.hpp and the README's reference).
#include "pg/guc.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace zd::pg {

int guc_mode = kModeEnforce;
int guc_debug_fault = kFaultNone;

namespace {

const struct config_enum_entry kModeOptions[] = {
    {"off", kModeOff, false},
    {"warn", kModeWarn, false},
    {"enforce", kModeEnforce, false},
    {nullptr, 0, false},
};

const struct config_enum_entry kFaultOptions[] = {
    {"none", kFaultNone, false},
    {"cpp_exception", kFaultCppException, false},
    {"bad_alloc", kFaultBadAlloc, false},
    {"zd_error", kFaultZdError, false},
    {"pg_error", kFaultPgError, false},
    {nullptr, 0, false},
};

}  // namespace

void define_gucs() {
  DefineCustomEnumVariable(
      "zero_downtime.mode", "What the guard does with dangerous DDL.",
      "enforce: rewrite it into its safe form or refuse it; warn: run it as written with a "
      "WARNING; off: nothing.",
      &guc_mode, kModeEnforce, kModeOptions, PGC_SUSET, 0, nullptr, nullptr, nullptr);

  DefineCustomEnumVariable(
      "zero_downtime.debug_fault", "Test only: make the guard fail on purpose.",
      "Injects a C++ exception or PostgreSQL error into the next guarded statements, to test "
      "that failures surface as clean errors.",
      &guc_debug_fault, kFaultNone, kFaultOptions, PGC_SUSET,
      GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);

  MarkGUCPrefixReserved("zero_downtime");
}

}  // namespace zd::pg
