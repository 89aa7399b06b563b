// What the guard learns of expand/contract migrations: for a DROP, RENAME or ALTER TYPE of a
// column, the active migration that owns it (the migration-owned rule, src/core/rules), and the
// DROP of an old column that runs its migration's contract; for a DROP TABLE, and a DROP
// COLUMN of no migration's column, the record of their use (usage_evidence.cpp; drop-table
// and drop-column).  Read only for those operations, and only where the extension is
// installed.
#include "pg/expand/expand.hpp"

#include "core/facts.hpp"
#include "pg/deferral.hpp"
#include "pg/sql_tokens.hpp"

extern "C" {
#include "utils/lsyscache.h"
}

namespace zd::pg::expand {

void fill_migration_facts(Oid relid, zd::Operation *op) {
  if (op->kind == zd::OpKind::DropTable) {
    if (OidIsValid(relid)) fill_usage_evidence(relid, 0, op);
    return;
  }
  if (op->kind != zd::OpKind::DropColumn && op->kind != zd::OpKind::RenameColumn &&
      op->kind != zd::OpKind::AlterColumnType)
    return;
  if (!OidIsValid(relid) || op->column.empty()) return;
  const Oid schema = extension_schema();
  zd::MigrationPhase phase;
  bool is_old = false;
  const char *kind = "";
  const char *column = unquoted_identifier(op->column.c_str());
  const int64 id = OidIsValid(schema) && OidIsValid(get_relname_relid("zd_migration", schema))
                       ? migration_owning_column(relid, column, &phase, &is_old, &kind)
                       : 0;
  if (id == 0) {
    // Not a migration's: a DROP COLUMN is judged on the record of its use.
    const AttrNumber attnum = get_attnum(relid, column);
    if (op->kind == zd::OpKind::DropColumn && attnum > 0) fill_usage_evidence(relid, attnum, op);
    return;
  }
  op->migration = id;
  op->migration_phase = zd::phase_name(phase);
  op->migration_old_column = is_old;
  op->migration_kind = kind;
}

}  // namespace zd::pg::expand
