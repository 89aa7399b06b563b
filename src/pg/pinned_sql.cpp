#include "pg/pinned_sql.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/guc.h"
}

namespace zd::pg {

int run_pinned_sql(Oid role, const char *sql, int nargs, Oid *types, Datum *values,
                   const char *nulls, bool read_only, long count) {
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  SetUserIdAndSecContext(OidIsValid(role) ? role : saved_user,
                         saved_context | SECURITY_LOCAL_USERID_CHANGE |
                             SECURITY_RESTRICTED_OPERATION);
  const int nest_level = NewGUCNestLevel();
  // What PostgreSQL itself pins for code that runs as another role (index builds, VACUUM).
  (void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                           GUC_ACTION_SAVE, true, 0, false);
  const int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count);
  AtEOXact_GUC(true, nest_level);
  SetUserIdAndSecContext(saved_user, saved_context);
  if (rc < 0) elog(ERROR, "zero_downtime: %s failed: %s", sql, SPI_result_code_string(rc));
  return rc;
}

}  // namespace zd::pg
