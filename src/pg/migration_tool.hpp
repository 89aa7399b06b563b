// Which migration tool runs the current statement, from what it leaves in the session: its
// hints then name that tool only (the others' instructions are noise to its user).
//   Prisma Migrate    holds advisory lock 72707369 during a deploy
//   node-pg-migrate   holds advisory lock 7241865325823964
//   Knex              its transaction has updated knex_migrations_lock
//   Drizzle           its transaction has touched drizzle.__drizzle_migrations
//   psql              application_name 'psql'
// None of them sets application_name; a tool configured otherwise (another lock key, another
// table name) is not recognised, and the hints then name every tool.
#pragma once

#include "core/facts.hpp"

namespace zd::pg {

zd::MigrationTool detect_migration_tool();

}  // namespace zd::pg
