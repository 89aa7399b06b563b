// What check_overlay.cpp and check_overlay_columns.cpp share: the overlay's entries.
#pragma once

#include "pg/check_overlay.hpp"

namespace zd::pg {

enum class Effect {
  Created,            // a relation (nsp, relname); nsp InvalidOid: a temporary one
  Dropped,            // a relation (nsp, relname)
  ColumnAdded,        // (relid, column, def): its type
  ColumnDropped,      // (relid, column)
  ColumnTypeChanged,  // (relid, column, def): ALTER COLUMN ... TYPE
  NotNullSet,         // (relid, column): SET NOT NULL, a PRIMARY KEY, ADD COLUMN ... NOT NULL
  NotNullDropped,     // (relid, column)
  CheckAdded,         // (relid, constraint or nullptr, expr): valid unless NOT VALID
  CheckValidated,     // (relid, constraint)
  ConstraintDropped,  // (relid, constraint)
  LockHeld,           // (relid, lock, table, statement): until the transaction ends
};

struct OverlayEntry {
  Effect effect;
  Oid nsp;
  const char *relname;
  Oid relid;
  const char *column;
  const char *constraint;
  Node *expr;  // CheckAdded: the raw (unanalysed) expression
  const ColumnDef *def;  // ColumnAdded, ColumnTypeChanged: the column's type after it
  bool valid;  // CheckAdded: not NOT VALID
  zd::Lock lock;
  const char *table;
  const char *statement;
};

inline bool same(const char *a, const char *b) {
  return a != nullptr && b != nullptr && strcmp(a, b) == 0;
}

// The script created the relation of this name (and did not drop it since).
bool relation_is_new(const ScriptOverlay *o, Oid relid);
// Some entry (other than a held lock) is about the relation.
bool touches_relation(const ScriptOverlay *o, Oid relid);

// check_overlay_columns.cpp: a SET NOT NULL or primary key column proven NOT NULL by what the
// script did; an ALTER TYPE judged from the type the script gave the column.
void apply_column_proofs(const ScriptOverlay *o, zd::Operation *op);
void apply_type_changes(const ScriptOverlay *o, const Node *stmt, zd::StatementFacts *facts);

}  // namespace zd::pg
