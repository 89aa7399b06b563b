// zd_status(): the version, the mode in force, how the library was loaded, and the server's
// version with what the rules do differently on its major.  The install
// script uses it to warn when the guard is not active in other sessions.
#include "core/rule_catalog.hpp"
#include "pg/boundary.hpp"
#include "pg/guc.hpp"
#include "pg/module.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
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

  // The server it runs on, and what the rules do differently on that major (the version the
  // rules decide by: the one this library was built for, which PostgreSQL checks at load).
  Datum *notes = (Datum *) palloc(sizeof(Datum) * zd::kVersionNoteCount);
  int n = 0;
  for (size_t i = 0; i < zd::kVersionNoteCount; i++)
    if (zd::version_note_applies(zd::kVersionNotes[i], ZD_SERVER_VERSION_NUM))
      notes[n++] = CStringGetTextDatum(zd::kVersionNotes[i].note);
  const char *server_version = GetConfigOption("server_version", false, false);
  const char *server_version_num = GetConfigOption("server_version_num", false, false);
  Datum values[7] = {CStringGetTextDatum(kVersion), CStringGetTextDatum(mode_name(guc_mode)),
                     CStringGetTextDatum(loaded_by), BoolGetDatum(everywhere),
                     CStringGetTextDatum(server_version),
                     Int32GetDatum(pg_strtoint32(server_version_num)),
                     PointerGetDatum(construct_array(notes, n, TEXTOID, -1, false, TYPALIGN_INT))};
  bool nulls[7] = {false, false, false, false, false, false, false};
  // An install script of 1.0 from before the last three columns declares four: heap_form_tuple
  // takes as many values as the declaration has columns, those first four.
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
