#include "pg/migration_tool.hpp"

#include "pg/pg_headers.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

namespace zd::pg {
namespace {

const int64 kPrismaLock = 72707369;
const int64 kNodePgMigrateLock = 7241865325823964;

// pg_advisory_lock(key) held by this session (lockfuncs.c: SET_LOCKTAG_INT64, ExclusiveLock).
bool holds_advisory_lock(int64 key) {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (key >> 32), (uint32) key, 1);
  return ZD_LOCK_HELD_BY_ME(&tag, ExclusiveLock);
}

bool holds_lock_on(Oid relid, LOCKMODE mode) {
  if (!OidIsValid(relid)) return false;
  LOCKTAG tag;
  SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
  return ZD_LOCK_HELD_BY_ME(&tag, mode);
}

}  // namespace

zd::MigrationTool detect_migration_tool() {
  const bool named = application_name != nullptr && application_name[0] != '\0';
  if (named && strcmp(application_name, "psql") == 0) return zd::MigrationTool::Psql;
  if (holds_advisory_lock(kPrismaLock)) return zd::MigrationTool::Prisma;
  if (holds_advisory_lock(kNodePgMigrateLock)) return zd::MigrationTool::NodePgMigrate;
  if (holds_lock_on(RelnameGetRelid("knex_migrations_lock"), RowExclusiveLock))
    return zd::MigrationTool::Knex;
  const Oid drizzle = get_namespace_oid("drizzle", true);
  if (OidIsValid(drizzle)) {
    const Oid journal = get_relname_relid("__drizzle_migrations", drizzle);
    // Its transaction has touched the journal (after its first migration); before that, the
    // journal's existence in a session that gives no application_name is the best sign.
    if (holds_lock_on(journal, AccessShareLock) || holds_lock_on(journal, RowExclusiveLock) ||
        (OidIsValid(journal) && !named))
      return zd::MigrationTool::Drizzle;
  }
  return zd::MigrationTool::Unknown;
}

}  // namespace zd::pg
