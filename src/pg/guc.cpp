// Definitions of the zero_downtime.* settings (see guc.hpp and the README's reference).
#include "pg/guc.hpp"

#include "core/drift.hpp"
#include "core/rule_catalog.hpp"
#include "pg/journal.hpp"
#include "pg/schema_roles.hpp"
#include "pg/schema_watch.hpp"

#include <climits>
#include <cstdlib>

extern "C" {
#include "utils/guc.h"
#include "utils/varlena.h"
}

namespace zd::pg {

bool check_name_list(char **newval, void **extra, bool (*valid)(const char *name)) {
  char *raw = pstrdup(*newval);
  List *names = NIL;
  if (!SplitIdentifierString(raw, ',', &names)) {
    GUC_check_errdetail("List syntax is invalid.");
    return false;
  }
  size_t bytes = sizeof(char *) * (list_length(names) + 1) + strlen(*newval) + 1;
  char **list = (char **) ZD_GUC_MALLOC(bytes);
  if (list == nullptr) return false;
  char *strings = (char *) (list + list_length(names) + 1);
  int i = 0;
  ListCell *lc;
  foreach (lc, names) {
    const char *name = (const char *) lfirst(lc);
    if (valid != nullptr && !valid(name)) {
      ZD_GUC_FREE(list);
      return false;
    }
    strcpy(strings, name);
    list[i++] = strings;
    strings += strlen(name) + 1;
  }
  list[i] = nullptr;
  *extra = list;
  return true;
}

int guc_mode = kModeEnforce;
int guc_debug_fault = kFaultNone;
int guc_small_table_size_kb = 10 * 1024;
int guc_lock_timeout_ms = 1000;
int guc_lock_retries = 5;
int guc_lock_retry_budget_ms = 60 * 1000;
bool guc_defer_in_transaction = false;
char *guc_client_version = nullptr;
int guc_contract_quiet_period_s = 15 * 60;
bool guc_track_new_tables = false;
int guc_orm_renames = kOrmRenamesOff;

namespace {
char *guc_allow = nullptr;
const char *const kNoRules[] = {nullptr};
const char *const *allowed_rule_list = kNoRules;
}  // namespace

const char *const *allowed_rules() { return allowed_rule_list; }

namespace {

const struct config_enum_entry kModeOptions[] = {
    {"off", kModeOff, false},
    {"warn", kModeWarn, false},
    {"enforce", kModeEnforce, false},
    {nullptr, 0, false},
};

const struct config_enum_entry kOrmRenamesOptions[] = {
    {"off", kOrmRenamesOff, false},
    {"migrate", kOrmRenamesMigrate, false},
    {nullptr, 0, false},
};

const struct config_enum_entry kDriftOptions[] = {
    {"off", (int) zd::DriftMode::Off, false},
    {"warn", (int) zd::DriftMode::Warn, false},
    {"refuse", (int) zd::DriftMode::Refuse, false},
    {nullptr, 0, false},
};

char *guc_schema_roles = nullptr;

const struct config_enum_entry kFaultOptions[] = {
    {"none", kFaultNone, false},
    {"cpp_exception", kFaultCppException, false},
    {"bad_alloc", kFaultBadAlloc, false},
    {"zd_error", kFaultZdError, false},
    {"pg_error", kFaultPgError, false},
    {nullptr, 0, false},
};

bool is_rule_name(const char *name) {
  if (zd::find_rule(name) != nullptr) return true;
  GUC_check_errdetail("\"%s\" is not a zero_downtime rule.", name);
  GUC_check_errhint("See the rule catalogue in the README, or SELECT name FROM zd_rules().");
  return false;
}

// Parses and validates zero_downtime.allow once, when it is set, into an array of names.
bool check_allow(char **newval, void **extra, GucSource source) {
  return check_name_list(newval, extra, is_rule_name);
}

void assign_allow(const char *newval, void *extra) {
  allowed_rule_list = extra ? (const char *const *) extra : kNoRules;
}

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

  DefineCustomIntVariable(
      "zero_downtime.small_table_size",
      "Tables smaller than this are exempt from the lock and rewrite rules.",
      "Their lock is held for milliseconds; the lock cap still applies.  0: no table is small.",
      &guc_small_table_size_kb, 10 * 1024, 0, INT_MAX, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr,
      nullptr);

  DefineCustomStringVariable(
      "zero_downtime.allow", "Rules that do not apply (comma-separated rule names).",
      "For a maintenance window: SET LOCAL zero_downtime.allow = 'vacuum-full'.", &guc_allow, "",
      PGC_SUSET, GUC_LIST_INPUT, check_allow, assign_allow, nullptr);

  DefineCustomIntVariable(
      "zero_downtime.lock_timeout",
      "The highest lock_timeout for DDL that takes a lock blocking the application.",
      "A statement waiting for such a lock makes every later query on the table queue behind "
      "it; this caps that stall.  A lower lock_timeout of the session is kept.",
      &guc_lock_timeout_ms, 1000, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);

  DefineCustomIntVariable(
      "zero_downtime.lock_retries",
      "How many times a capped statement is retried after a lock timeout (autocommit only).",
      nullptr, &guc_lock_retries, 5, 0, 1000, PGC_SUSET, 0, nullptr, nullptr, nullptr);

  DefineCustomIntVariable(
      "zero_downtime.lock_retry_budget",
      "The most time spent waiting between retries of one statement.",
      "The wait between retries starts at zero_downtime.lock_timeout (at least 100 ms), "
      "doubles up to 10 s, with up to 50% jitter; when this budget is spent the last lock "
      "timeout is reported with the backends blocking the lock.",
      &guc_lock_retry_budget_ms, 60 * 1000, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr,
      nullptr);

  DefineCustomBoolVariable(
      "zero_downtime.defer_in_transaction",
      "In a transaction block, defer the long part of a safe form until after the commit.",
      "Instead of refusing CREATE INDEX, ADD CHECK / FOREIGN KEY or SET NOT NULL in a migration "
      "tool's transaction, do the brief part there (NOT VALID) and run the rest (CREATE INDEX "
      "CONCURRENTLY, VALIDATE, SET NOT NULL) in a background worker once it commits.  Off by "
      "default: until the worker is done, a deferred index (a unique one included) does not "
      "exist and a deferred constraint is not validated.",
      &guc_defer_in_transaction, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);

  DefineCustomStringVariable(
      "zero_downtime.schema_roles",
      "Roles allowed to change the schema (comma-separated; membership counts).",
      "The migration tool's roles.  DDL from any other role (superusers included) is what "
      "zero_downtime.schema_drift warns about or refuses.",
      &guc_schema_roles, "", PGC_SUSET, GUC_LIST_INPUT, check_schema_roles, assign_schema_roles,
      nullptr);

  DefineCustomEnumVariable(
      "zero_downtime.schema_drift",
      "What happens to DDL from roles outside zero_downtime.schema_roles.",
      "off: nothing; warn: a WARNING; refuse: an error (SQLSTATE ZD006).  Temporary objects and "
      "objects created in the same transaction are exempt.",
      &guc_schema_drift, (int) zd::DriftMode::Off, kDriftOptions, PGC_SUSET, 0, nullptr, nullptr,
      nullptr);

  DefineCustomIntVariable(
      "zero_downtime.journal_size",
      "How much of the DDL journal is kept (0, the default: no journal).",
      "Two segments of half this size under the data directory (zero_downtime/journal and "
      "journal.old): the oldest entries go first.  Records are staged in a mapped file "
      "(zero_downtime/journal.stage, 32 kB a backend) first.",
      &guc_journal_size_kb, 0, 0, 1024 * 1024, PGC_SIGHUP, GUC_UNIT_KB, nullptr, nullptr,
      nullptr);

  DefineCustomStringVariable(
      "zero_downtime.client_version",
      "The application version this session's code was written for.",
      "During an expand/contract migration, a write from a session stating a version at least "
      "the migration's is for the new column, else for the old one; unset, the write's own "
      "columns tell.  Any role may set it (SET, connection options, ALTER ROLE ... SET).",
      &guc_client_version, "", PGC_USERSET, 0, nullptr, nullptr, nullptr);

  DefineCustomIntVariable(
      "zero_downtime.contract_quiet_period",
      "How long the old column of a migration must go unused before zd_contract drops it.",
      "The server records when a query last read or wrote the old column and by which "
      "application_name; zd_contract (and DROP COLUMN of it) is refused while that is more "
      "recent than this, or while the server has watched for less than this.  0: no wait.  "
      "A role that may SET it may also force a contract: zd_contract(id, force => true).",
      &guc_contract_quiet_period_s, 15 * 60, 0, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr,
      nullptr, nullptr);

  DefineCustomBoolVariable(
      "zero_downtime.track_new_tables",
      "Record the use of every table created from now on, from its creation.",
      "drop-table lets a DROP TABLE run when no application used the table for "
      "zero_downtime.contract_quiet_period; a table recorded since its creation needs no "
      "waiting for the record itself (a fresh install's migrations run through).  Off by "
      "default: every query on a recorded table is looked at by the executor hook.",
      &guc_track_new_tables, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);

  DefineCustomEnumVariable(
      "zero_downtime.orm_renames",
      "What a RENAME COLUMN or a rewriting ALTER COLUMN TYPE on a live table does.",
      "off: it is refused (rename-column, alter-column-type); migrate: it starts an "
      "expand/contract migration instead, as zd_expand_rename_column or zd_expand_change_type "
      "would (both names work until its contract), so that an ORM's generated migration runs "
      "unchanged; a NOTICE names the migration and the next call.",
      &guc_orm_renames, kOrmRenamesOff, kOrmRenamesOptions, PGC_SUSET, 0, nullptr, nullptr,
      nullptr);

  MarkGUCPrefixReserved("zero_downtime");
}

}  // namespace zd::pg
