// zd_status(): the version, the mode in force, and how the library was loaded.  The install
// script uses it to warn when the guard is not active in other sessions.
#include "pg/boundary.hpp"
#include "pg/guc.hpp"
#include "pg/module.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"
}

namespace zd::pg {
namespace {

const char *const kVersion = "1.0";

// True when the comma-separated library list names this library ("zero_downtime",
// "$libdir/zero_downtime", "$libdir/plugins/zero_downtime", ...).
bool library_list_names_us(const char *setting_name) {
  const char *value = GetConfigOption(setting_name, true, false);
  if (value == nullptr || value[0] == '\0') return false;
  char *raw = pstrdup(value);
  List *names = NIL;
  if (!SplitDirectoriesString(raw, ',', &names)) return false;
  ListCell *cell;
  foreach (cell, names) {
    const char *name = (const char *) lfirst(cell);
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strcmp(base, "zero_downtime") == 0 || strcmp(base, "zero_downtime.so") == 0) return true;
  }
  return false;
}

const char *mode_name(int mode) {
  switch (mode) {
    case kModeOff: return "off";
    case kModeWarn: return "warn";
    default: return "enforce";
  }
}

}  // namespace
}  // namespace zd::pg

ZD_SQL_FUNCTION(zd_status) {
  using namespace zd::pg;
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("zd_status: called in a context that cannot accept a record")));
  desc = BlessTupleDesc(desc);

  const char *loaded_by = "LOAD or CREATE EXTENSION (this session only)";
  bool everywhere = false;
  if (loaded_at_server_start) {
    loaded_by = "shared_preload_libraries";
    everywhere = true;
  } else if (library_list_names_us("session_preload_libraries")) {
    loaded_by = "session_preload_libraries";
    everywhere = true;
  } else if (library_list_names_us("local_preload_libraries")) {
    loaded_by = "local_preload_libraries";
  }

  Datum values[4] = {CStringGetTextDatum(kVersion), CStringGetTextDatum(mode_name(guc_mode)),
                     CStringGetTextDatum(loaded_by), BoolGetDatum(everywhere)};
  bool nulls[4] = {false, false, false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
