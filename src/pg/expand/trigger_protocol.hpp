// The protocol both C triggers of a migration are created for (zd_sync_trigger in
// sync_trigger.cpp, zd_fill_trigger in fill_trigger.cpp): called by the trigger manager,
// BEFORE INSERT OR UPDATE, FOR EACH ROW.  Inline: it runs for every row written.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "commands/trigger.h"
}

namespace zd::pg::expand {

// The call's trigger data; refuses (39P01) a call that is not a trigger's, or a trigger that
// is not BEFORE INSERT OR UPDATE FOR EACH ROW.  `name`: the trigger function, for the message.
// (Plain C frame: the error longjmps through here.)
inline TriggerData *check_before_row_trigger(FunctionCallInfo fcinfo, const char *name) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("zero_downtime: %s must be called as a trigger", name)));
  TriggerData *td = (TriggerData *) fcinfo->context;
  if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
      TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("zero_downtime: %s must fire BEFORE INSERT OR UPDATE FOR EACH ROW",
                           name)));
  return td;
}

}  // namespace zd::pg::expand
