// The module's entry point: settings, the ProcessUtility and ExecutorStart hooks, and how the
// library was loaded.
#include "pg/module.hpp"

#include "pg/deferral.hpp"
#include "pg/deferral_worker.hpp"
#include "pg/dml_hook.hpp"
#include "pg/expand/expand.hpp"
#include "pg/guc.hpp"
#include "pg/journal.hpp"
#include "pg/schema_roles.hpp"
#include "pg/stats.hpp"
#include "pg/utility_hook.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace zd::pg {
bool loaded_at_server_start = false;
}

// PostgreSQL 15 never unloads a library (_PG_fini is no longer called), so the hook stays
// installed for the life of the backend; there is nothing to restore.
extern "C" void _PG_init(void) {
  zd::pg::loaded_at_server_start = process_shared_preload_libraries_in_progress;
  zd::pg::define_gucs();
  zd::pg::install_utility_hook();
  zd::pg::install_dml_hook();
  zd::pg::install_deferred_object_explainer();
  zd::pg::register_schema_role_callbacks();
  zd::pg::expand::install_insert_columns_hook();
  zd::pg::expand::install_usage_hooks();
  if (process_shared_preload_libraries_in_progress) {
    zd::pg::stats_install_hooks();
    zd::pg::journal_install_hooks();
    zd::pg::register_deferral_launcher();
  }
}
