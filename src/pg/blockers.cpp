#include "pg/blockers.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "fmgr.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
}

namespace zd::pg {
namespace {

const int kQueryChars = 120;

// "00:00:12": how long ago `since` was.
const char *age(TimestampTz since) {
  if (since == 0) return "?";
  long secs;
  int usecs;
  TimestampDifference(since, GetCurrentTimestamp(), &secs, &usecs);
  return psprintf("%02ld:%02ld:%02ld", secs / 3600, (secs / 60) % 60, secs % 60);
}

// "2026-11-29 17:58:02 UTC"
const char *to_seconds(TimestampTz at) {
  if (at == 0) return "?";
  return text_to_cstring(DatumGetTextPP(DirectFunctionCall2(
      timestamptz_to_char, TimestampTzGetDatum(at),
      PointerGetDatum(cstring_to_text("YYYY-MM-DD HH24:MI:SS TZ")))));
}

// pg_stat_activity's rule for showing a backend's query (pg_stat_get_activity).
bool may_see_query(const PgBackendStatus *be) {
  return has_privs_of_role(GetUserId(), be->st_userid) ||
         has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

void describe_backend(StringInfo out, int pid) {
  const int n = pgstat_fetch_stat_numbackends();
  for (int i = 1; i <= n; i++) {
    const PgBackendStatus *be = &ZD_LOCAL_BACKEND_ENTRY(i)->backendStatus;
    if (be->st_procpid != pid) continue;
    appendStringInfo(out, "pid %d (%s, transaction open for %s, query started %s", pid,
                     compat::backend_state_name(be->st_state), age(be->st_xact_start_timestamp),
                     to_seconds(be->st_activity_start_timestamp));
    if (may_see_query(be)) {
      const char *query = pgstat_clip_activity(be->st_activity_raw);
      appendStringInfoString(out, ": ");
      appendBinaryStringInfo(out, query, pg_mbcliplen(query, strlen(query), kQueryChars));
    }
    appendStringInfoChar(out, ')');
    return;
  }
  appendStringInfo(out, pid == 0 ? "a prepared transaction" : "pid %d", pid);
}

}  // namespace

char *describe_blockers(const char *table, zd::Lock lock) {
  const Oid relid =
      RangeVarGetRelid(makeRangeVarFromNameList(ZD_QUALIFIED_NAME_LIST(table)), NoLock, true);
  if (!OidIsValid(relid)) return nullptr;
  pgstat_clear_backend_activity_snapshot();  // as of now, not of an earlier call
  LockData *locks = GetLockStatusData();
  List *pids = NIL;
  for (int i = 0; i < locks->nelements; i++) {
    const LockInstanceData *l = &locks->locks[i];
    if (l->locktag.locktag_type != LOCKTAG_RELATION ||
        l->locktag.locktag_field1 != MyDatabaseId || l->locktag.locktag_field2 != relid ||
        l->pid == MyProcPid || list_member_int(pids, l->pid))
      continue;
    for (int mode = (int) zd::Lock::AccessShare; mode <= (int) zd::Lock::AccessExclusive; mode++)
      if ((l->holdMask & LOCKBIT_ON(mode)) && zd::locks_conflict((zd::Lock) mode, lock)) {
        pids = lappend_int(pids, l->pid);
        break;
      }
  }
  if (pids == NIL) return nullptr;
  list_sort(pids, list_int_cmp);
  StringInfoData out;
  initStringInfo(&out);
  ListCell *lc;
  foreach (lc, pids) {
    if (out.len > 0) appendStringInfoString(&out, "; ");
    describe_backend(&out, lfirst_int(lc));
  }
  return out.data;
}

}  // namespace zd::pg
