// Judges the record of use (usage.cpp) and shows it: whether a migration's old column has
// been unused, and watched, for zero_downtime.contract_quiet_period (zd_contract refuses
// otherwise, naming the applications that used it); what the record of a table or column
// shows for DROP TABLE / DROP COLUMN (the usage_* facts the core's drop-table and drop-column
// rules decide on, starting the record when nothing kept one); and the SQL functions that show
// it or start and stop it: zd_migration_usage, zd_track, zd_untrack, zd_usage.
#include "pg/expand/expand.hpp"
#include "pg/expand/usage_internal.hpp"

#include "pg/boundary.hpp"
#include "pg/deferral.hpp"
#include "pg/guc.hpp"
#include "pg/trusted_code.hpp"
#include "core/facts.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace zd::pg::expand {
using namespace usage;

namespace {

const int kTrackedSlots = 768;  // of the kSlots, tables and columns of no migration at most

// The slot's applications used after `from`, most recent first: indexes into s.apps; returns
// how many.
int recent_apps(const Slot &s, TimestampTz from, int *order) {
  bool taken[kApps] = {};
  int n = 0;
  for (;;) {
    int best = -1;
    for (int i = 0; i < kApps; i++)
      if (!taken[i] && s.apps[i].at > from && (best < 0 || s.apps[i].at > s.apps[best].at))
        best = i;
    if (best < 0) return n;
    taken[best] = true;
    order[n++] = best;
  }
}

// How many slots tables and columns of no migration hold.  The lock is held by the caller.
int tracked_slots() {
  int n = 0;
  for (int i = 0; i < kSlots; i++)
    if (shared->slots[i].db != InvalidOid && shared->slots[i].migration == 0) n++;
  return n;
}

// The applications of `s` used after `from`, for a message: 'app' (at ...), ...
const char *apps_text(const Slot &s, TimestampTz from) {
  StringInfoData apps;
  initStringInfo(&apps);
  int order[kApps];
  const int n = recent_apps(s, from, order);
  for (int i = 0; i < n; i++)
    appendStringInfo(&apps, "%s'%s' (at %s)", apps.len ? ", " : "", s.apps[order[i]].name,
                     timestamptz_to_str(s.apps[order[i]].at));
  return apps.data;
}

// The applications of `s`, most recent first, as a text[] (zd_migration_usage, zd_usage).
Datum apps_array(const Slot &s) {
  Datum names[kApps];
  int order[kApps];
  const int n = recent_apps(s, 0, order);
  for (int i = 0; i < n; i++) names[i] = CStringGetTextDatum(s.apps[order[i]].name);
  return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

// The table (attnum 0) or column of zd_track / zd_untrack / zd_usage: NULL column, the table.
AttrNumber tracked_attnum(FunctionCallInfo fcinfo, Oid relid) {
  if (PG_ARGISNULL(1)) return 0;
  const char *column = NameStr(*PG_GETARG_NAME(1));
  const AttrNumber attnum = get_attnum(relid, column);
  if (attnum <= 0)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("zero_downtime: column %s of %s does not exist",
                           quote_identifier(column), get_rel_name(relid))));
  return attnum;
}

// The relation of zd_track / zd_untrack: a permanent table the caller owns.
Oid tracked_relation(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("zero_downtime: relation must not be NULL")));
  const Oid relid = PG_GETARG_OID(0);
  const char relkind = get_rel_relkind(relid);
  if (relkind == '\0')
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("zero_downtime: relation with OID %u does not exist", relid)));
  if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
      get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                    errmsg("zero_downtime: %s is not a permanent table", get_rel_name(relid))));
  if (!caller_owns_relation(relid))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("zero_downtime: must be owner of table %s to record its use",
                           get_rel_name(relid))));
  if (shared == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("zero_downtime: recording the use of tables needs the library in "
                           "shared_preload_libraries")));
  return relid;
}

}  // namespace

void fill_usage_evidence(Oid relid, AttrNumber attnum, zd::Operation *op) {
  op->usage_quiet_s = guc_contract_quiet_period_s;
  const zd::TableFacts &t = op->table;
  if (op->usage_quiet_s == 0 || !t.exists || t.created_in_transaction || t.temporary || t.empty)
    return;  // (not consulted, or the rule does not fire)
  if (shared == nullptr) {
    op->usage_unavailable = "recording it needs the library in shared_preload_libraries";
    return;
  }
  if (!OidIsValid(extension_schema())) {
    op->usage_unavailable = "the extension is not installed in this database";
    return;
  }
  const char *table_literal = quote_literal_cstr(t.name.c_str());
  const char *column_arg =
      attnum == 0 ? "" : psprintf(", %s", quote_literal_cstr(get_attname(relid, attnum, false)));
  op->usage_track_call =
      psprintf("SELECT %s.zd_track(%s%s)", schema_name(), table_literal, column_arg);
  op->usage_show_call =
      psprintf("SELECT * FROM %s.zd_usage(%s%s)", schema_name(), table_literal, column_arg);
  const TimestampTz now = GetCurrentTimestamp();
  const TimestampTz quiet_from = now - (TimestampTz) op->usage_quiet_s * USECS_PER_SEC;
  Slot copy;
  bool found = false, started = false, full = false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int slot = find_slot(0, relid, attnum, false, 0);
  if (slot < 0 && attnum != 0) {
    // A column: its table unused for the quiet period, watched that long, says it is unused.
    const int table_slot = find_slot(0, relid, 0, false, 0);
    if (table_slot >= 0) {
      const Slot &s = shared->slots[table_slot];
      if (s.last_used <= quiet_from && (s.since_creation || s.since <= quiet_from))
        slot = table_slot;
    }
  }
  if (slot >= 0) {
    copy = shared->slots[slot];
    found = true;
  } else if (tracked_slots() < kTrackedSlots) {
    started = find_slot(0, relid, attnum, true, now) >= 0;
  } else {
    full = true;
  }
  LWLockRelease(shared->lock);
  if (started) pg_atomic_fetch_add_u64(&shared->generation, 1);
  op->usage_track_started = started;
  if (full)
    op->usage_unavailable = psprintf("%d tables and columns are recorded already (zd_untrack "
                                     "lets go of one)", kTrackedSlots);
  // Once the DROP commits, every backend reads the list again and lets go of what is gone
  // (not freed here: a refused DROP in a subtransaction ends in the outer one's commit).
  note_change_at_commit();
  if (!found) return;
  op->usage_tracked = true;
  op->usage_since_creation = copy.since_creation;
  op->usage_tracked_s = (now - copy.since) / USECS_PER_SEC;
  op->usage_tracked_since = pstrdup(timestamptz_to_str(copy.since));
  if (copy.last_used != 0) {
    op->usage_idle_s = (now - copy.last_used) / USECS_PER_SEC;
    op->usage_last_used = pstrdup(timestamptz_to_str(copy.last_used));
    op->usage_applications = apps_text(copy, quiet_from);
  }
}

void check_contract_evidence(const Migration *m, bool force) {
  const int quiet_s = guc_contract_quiet_period_s;
  if (quiet_s == 0) return;
  const char *force_hint = psprintf(
      "A role that may SET zero_downtime.contract_quiet_period (a superuser, or GRANT SET ON "
      "PARAMETER zero_downtime.contract_quiet_period) can force it: SELECT zd_contract(%lld, "
      "force => true).",
      (long long) m->id);
  if (force) {
    if (!superuser() &&
        pg_parameter_aclcheck("zero_downtime.contract_quiet_period", GetUserId(), ACL_SET) !=
            ACLCHECK_OK)
      ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                      errmsg("zero_downtime: permission denied to force the contract of "
                             "migration %lld",
                             (long long) m->id),
                      errdetail("Forcing it needs the right to SET "
                                "zero_downtime.contract_quiet_period."),
                      errhint("A superuser can GRANT SET ON PARAMETER "
                              "zero_downtime.contract_quiet_period TO %s.",
                              quote_identifier(GetUserNameFromId(GetUserId(), false)))));
    ereport(NOTICE, (errmsg("zero_downtime: contract of migration %lld forced: the use of %s "
                            "is not checked",
                            (long long) m->id, quote_identifier(m->old_column))));
    return;
  }
  if (shared == nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("zero_downtime: zd_contract(%lld) cannot tell whether %s is still used",
                    (long long) m->id, quote_identifier(m->old_column)),
             errdetail("Recording its use needs the library in shared_preload_libraries."),
             errhint("%s", force_hint)));
  const AttrNumber attnum = get_attnum(m->relid, m->old_column);
  const TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const int slot = find_slot(m->id, m->relid, attnum, true, now);
  Slot copy;
  if (slot >= 0) copy = shared->slots[slot];
  LWLockRelease(shared->lock);
  if (slot < 0)
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zero_downtime: zd_contract(%lld) cannot tell whether %s is still "
                           "used: %d migrations are watched already",
                           (long long) m->id, quote_identifier(m->old_column), kSlots),
                    errhint("%s", force_hint)));
  const TimestampTz quiet_from = now - (TimestampTz) quiet_s * USECS_PER_SEC;
  const char *quiet = psprintf("%d s", quiet_s);
  if (copy.last_used > quiet_from) {
    const char *apps = apps_text(copy, quiet_from);
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_IN_USE),
             errmsg("zero_downtime: zd_contract(%lld) refused: column %s of %s was used %s ago",
                    (long long) m->id, quote_identifier(m->old_column), m->relation,
                    psprintf("%ld s", (long) ((now - copy.last_used) / USECS_PER_SEC))),
             errdetail("Queries of application_name %s read or wrote it, within "
                       "zero_downtime.contract_quiet_period (%s); contract drops it.",
                       apps, quiet),
             errhint("Deploy the code that uses %s instead, wait until nothing has used %s "
                     "for %s, then call zd_contract(%lld) again.  %s",
                     quote_identifier(m->new_column), quote_identifier(m->old_column), quiet,
                     (long long) m->id, force_hint)));
  }
  if (copy.since > quiet_from)
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_IN_USE),
             errmsg("zero_downtime: zd_contract(%lld) refused: column %s of %s has been "
                    "watched for %ld s only",
                    (long long) m->id, quote_identifier(m->old_column), m->relation,
                    (long) ((now - copy.since) / USECS_PER_SEC)),
             errdetail("No query has used it since %s (the migration's expand, or the "
                       "server's start), but zero_downtime.contract_quiet_period is %s.",
                       timestamptz_to_str(copy.since), quiet),
             errhint("Call zd_contract(%lld) again after %s.  %s", (long long) m->id,
                     timestamptz_to_str(copy.since + (TimestampTz) quiet_s * USECS_PER_SEC),
                     force_hint)));
}

}  // namespace zd::pg::expand

// zd_migration_usage(migration, relation, old_column): since when its old column is watched,
// when it was last used and by which application_names (most recent first); for the table's
// owner and pg_read_all_stats, else nulls.
ZD_SQL_FUNCTION(zd_migration_usage) {
  using namespace zd::pg::expand;
  const int64 migration = PG_GETARG_INT64(0);
  const Oid relid = PG_GETARG_OID(1);
  const char *column = NameStr(*PG_GETARG_NAME(2));
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "zd_migration_usage: return type must be a row type");
  Datum values[3] = {0, 0, 0};
  bool nulls[3] = {true, true, true};
  const AttrNumber attnum = get_attnum(relid, column);
  const bool may_see = get_rel_name(relid) != nullptr &&
                       (zd::pg::caller_owns_relation(relid) ||
                        has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS));
  if (shared != nullptr && may_see && attnum != InvalidAttrNumber) {
    LWLockAcquire(shared->lock, LW_SHARED);
    const int slot = find_slot(migration, relid, attnum, false, 0);
    Slot copy;
    if (slot >= 0) copy = shared->slots[slot];
    LWLockRelease(shared->lock);
    if (slot >= 0) {
      values[0] = TimestampTzGetDatum(copy.since);
      nulls[0] = false;
      if (copy.last_used != 0) {
        values[1] = TimestampTzGetDatum(copy.last_used);
        nulls[1] = false;
        values[2] = apps_array(copy);
        nulls[2] = false;
      }
    }
  }
  return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

// zd_track(relation, column_name): records from now (or since earlier, when it was already)
// when a query last used the table (NULL column) or the column, and by which
// application_name; returns since when.  For drop-table and drop-column.
ZD_SQL_FUNCTION(zd_track) {
  using namespace zd::pg::expand;
  const Oid relid = tracked_relation(fcinfo);
  const AttrNumber attnum = tracked_attnum(fcinfo, relid);
  const TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int slot = find_slot(0, relid, attnum, false, 0);
  const bool room = slot >= 0 || tracked_slots() < kTrackedSlots;
  if (slot < 0 && room) slot = find_slot(0, relid, attnum, true, now);
  const TimestampTz since = slot >= 0 ? shared->slots[slot].since : 0;
  LWLockRelease(shared->lock);
  if (slot < 0)
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("zero_downtime: the use of %d tables and columns is recorded "
                           "already", kTrackedSlots),
                    errhint("zd_untrack(relation, column_name) lets go of one.")));
  pg_atomic_fetch_add_u64(&shared->generation, 1);
  PG_RETURN_TIMESTAMPTZ(since);
}

// zd_untrack(relation, column_name): stops recording it; false when it was not.
ZD_SQL_FUNCTION(zd_untrack) {
  using namespace zd::pg::expand;
  const Oid relid = tracked_relation(fcinfo);
  const AttrNumber attnum = tracked_attnum(fcinfo, relid);
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const int slot = find_slot(0, relid, attnum, false, 0);
  if (slot >= 0) shared->slots[slot].db = InvalidOid;
  LWLockRelease(shared->lock);
  if (slot >= 0) pg_atomic_fetch_add_u64(&shared->generation, 1);
  PG_RETURN_BOOL(slot >= 0);
}

// zd_usage(relation, column_name): since when the use of the table (NULL column) or column is
// recorded (NULL: it is not), whether since its creation, when an application last used it
// and which application_names (most recent first); for the table's owner and
// pg_read_all_stats, else nulls.
ZD_SQL_FUNCTION(zd_usage) {
  using namespace zd::pg::expand;
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  const Oid relid = PG_GETARG_OID(0);
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "zd_usage: return type must be a row type");
  Datum values[4] = {0, 0, 0, 0};
  bool nulls[4] = {true, true, true, true};
  const bool may_see = get_rel_name(relid) != nullptr &&
                       (zd::pg::caller_owns_relation(relid) ||
                        has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS));
  if (shared != nullptr && may_see) {
    const AttrNumber attnum = tracked_attnum(fcinfo, relid);
    LWLockAcquire(shared->lock, LW_SHARED);
    const int slot = find_slot(0, relid, attnum, false, 0);
    Slot copy;
    if (slot >= 0) copy = shared->slots[slot];
    LWLockRelease(shared->lock);
    if (slot >= 0) {
      values[0] = TimestampTzGetDatum(copy.since);
      values[1] = BoolGetDatum(copy.since_creation);
      nulls[0] = nulls[1] = false;
      if (copy.last_used != 0) {
        values[2] = TimestampTzGetDatum(copy.last_used);
        nulls[2] = false;
        values[3] = apps_array(copy);
        nulls[3] = false;
      }
    }
  }
  return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}
