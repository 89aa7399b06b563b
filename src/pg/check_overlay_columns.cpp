// The columns of existing tables as the script's earlier statements leave them: whether one
// holds no NULL (SET NOT NULL, a primary key), and the type an ALTER TYPE changes it from.
#include "pg/check_overlay_internal.hpp"

#include "pg/gather_internal.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_collation.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// The raw expression, as AND-ed conditions, has `column IS NOT NULL` (or NOT (column IS NULL))
// among them: what PostgreSQL's proof (weak implication) finds in a CHECK constraint.
bool proves_not_null(const Node *expr, const char *column) {
  if (expr == nullptr) return false;
  if (IsA(expr, BoolExpr)) {
    const BoolExpr *b = (const BoolExpr *) expr;
    if (b->boolop == AND_EXPR) {
      ListCell *lc;
      foreach (lc, b->args)
        if (proves_not_null((const Node *) lfirst(lc), column)) return true;
      return false;
    }
    if (b->boolop == NOT_EXPR && list_length(b->args) == 1 && IsA(linitial(b->args), NullTest)) {
      const NullTest *t = (const NullTest *) linitial(b->args);
      NullTest flipped = *t;
      flipped.nulltesttype = t->nulltesttype == IS_NULL ? IS_NOT_NULL : IS_NULL;
      return proves_not_null((const Node *) &flipped, column);
    }
    return false;
  }
  if (!IsA(expr, NullTest) || ((const NullTest *) expr)->nulltesttype != IS_NOT_NULL) return false;
  const Node *arg = (const Node *) ((const NullTest *) expr)->arg;
  if (!IsA(arg, ColumnRef)) return false;
  const Node *last = (const Node *) llast(((const ColumnRef *) arg)->fields);
  return IsA(last, String) && strcmp(strVal((Node *) last), column) == 0;
}

// quote_identifier's output back to the name.
const char *unquoted(const char *quoted) {
  const size_t n = strlen(quoted);
  if (n < 2 || quoted[0] != '"') return quoted;
  char *name = (char *) palloc(n);
  size_t out = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    name[out++] = quoted[i];
    if (quoted[i] == '"') i++;  // "" stands for one "
  }
  name[out] = '\0';
  return name;
}

// Whether `column` of existing table `relid` holds no NULL once the script's earlier statements
// have run: NOT NULL (the catalog's, unless the script dropped it or the column; the script's
// own), a valid CHECK of the catalog the script did not drop, or one the script added (and
// validated).  The same proof PostgreSQL makes for SET NOT NULL.
bool column_proven_not_null(const ScriptOverlay *o, Oid relid, const char *column) {
  bool fresh = false;  // the script dropped or (re)added the column: the catalog's is not it
  bool not_null = false, not_null_known = false;
  List *dropped = NIL;  // constraints the script dropped
  int since = 0, i = 0;  // a CHECK added before the column was dropped went with it
  ListCell *lc;
  foreach (lc, o->entries) {
    const OverlayEntry *e = (const OverlayEntry *) lfirst(lc);
    i++;
    if (e->relid != relid) continue;
    if (e->effect == Effect::ConstraintDropped) dropped = lappend(dropped, (void *) e->constraint);
    if (!same(e->column, column)) continue;
    switch (e->effect) {
      case Effect::ColumnAdded:
      case Effect::ColumnDropped:
        fresh = true;
        not_null = false;
        not_null_known = true;
        since = i;
        break;
      case Effect::NotNullSet:
      case Effect::NotNullDropped:
        not_null = e->effect == Effect::NotNullSet;
        not_null_known = true;
        break;
      default: break;
    }
  }
  if (not_null) return true;
  // The script's CHECK constraints: valid, or validated later, and not dropped since.
  i = 0;
  foreach (lc, o->entries) {
    const OverlayEntry *e = (const OverlayEntry *) lfirst(lc);
    if (++i <= since || e->relid != relid || e->effect != Effect::CheckAdded ||
        !proves_not_null(e->expr, column))
      continue;
    bool valid = e->valid, gone = false;
    for (int j = i; j < list_length(o->entries); j++) {
      const OverlayEntry *later = (const OverlayEntry *) list_nth(o->entries, j);
      if (later->relid != relid || !same(later->constraint, e->constraint)) continue;
      if (later->effect == Effect::CheckValidated) valid = true;
      if (later->effect == Effect::ConstraintDropped) gone = true;
    }
    if (valid && !gone) return true;
  }
  if (fresh) return false;
  const AttrNumber attnum = get_attnum(relid, column);
  if (attnum == InvalidAttrNumber) return false;
  if (!not_null_known) {
    not_null = compat::column_not_null_validated(relid, attnum);
    if (not_null) return true;
  }
  return not_null_implied_by_checks(relid, attnum, dropped);
}

// The column's type as the script's last ADD COLUMN or ALTER TYPE of it left it (nullptr: the
// catalog's); *fresh: the script added it (the catalog knows nothing of it).
const ColumnDef *script_column_type(const ScriptOverlay *o, Oid relid, const char *column,
                                    bool *fresh) {
  const ColumnDef *def = nullptr;
  *fresh = false;
  ListCell *lc;
  foreach (lc, o->entries) {
    const OverlayEntry *e = (const OverlayEntry *) lfirst(lc);
    if (e->relid != relid || !same(e->column, column)) continue;
    if (e->effect == Effect::ColumnAdded || e->effect == Effect::ColumnDropped) {
      *fresh = e->effect == Effect::ColumnAdded;
      def = nullptr;
    }
    if (e->effect == Effect::ColumnAdded || e->effect == Effect::ColumnTypeChanged) def = e->def;
  }
  return def;
}

// ALTER COLUMN ... TYPE of a column whose type the script set (added, or changed before):
// judged from that type, as the real run will (the catalog has another, or no such column).
void apply_type_change(const ScriptOverlay *o, zd::Operation *op, const char *column,
                       ColumnDef *target) {
  bool fresh;
  const ColumnDef *before = script_column_type(o, op->table.oid, column, &fresh);
  if (before == nullptr) return;
  int32 typmod = -1;
  Type type = LookupTypeName(nullptr, before->typeName, &typmod, true);
  if (type == nullptr) return;  // serial, or a type PostgreSQL will report
  const Oid typid = typeTypeId(type);
  ReleaseSysCache(type);
  Oid collation = get_typcollation(typid);
  if (before->collClause != nullptr)
    collation = get_collation_oid(before->collClause->collname, true);
  const AttrNumber attnum = fresh ? MaxAttrNumber : get_attnum(op->table.oid, column);
  if (attnum == InvalidAttrNumber) return;
  op->rechecked_names = {};
  op->rechecked_defs = {};
  op->rebuilt_index_names = {};
  op->rebuilt_index_defs = {};
  op->rebuilt_constraint_index = false;
  gather_type_change(op, fresh ? InvalidOid : (Oid) op->table.oid, attnum, column, typid, typmod,
                     collation, target);
}

}  // namespace

void apply_column_proofs(const ScriptOverlay *o, zd::Operation *op) {
  const Oid relid = op->table.oid;
  if (op->kind == zd::OpKind::SetNotNull && !op->column.empty()) {
    op->has_valid_not_null_check = column_proven_not_null(o, relid, unquoted(op->column.c_str()));
  } else if (op->kind == zd::OpKind::AddPrimaryKey) {
    // Its key columns the script made NOT NULL need no scan.
    const size_t n = op->nullable_key_columns.size();
    zd::Text *still = (zd::Text *) palloc0(sizeof(zd::Text) * (n + 1));
    size_t count = 0;
    for (const zd::Text &c : op->nullable_key_columns)
      if (!column_proven_not_null(o, relid, unquoted(c.c_str()))) still[count++] = c;
    op->nullable_key_columns = {still, count};
    // USING INDEX with every key column NOT NULL already: no scan at all (as gather decides).
    if (op->primary_key_using_index && count == 0) op->kind = zd::OpKind::OtherLocking;
  }
}

// The ALTER TYPE subcommands of the statement, in the order gather made their operations.
void apply_type_changes(const ScriptOverlay *o, const Node *stmt, zd::StatementFacts *facts) {
  if (!IsA(stmt, AlterTableStmt)) return;
  const ListCell *next = list_head(((const AlterTableStmt *) stmt)->cmds);
  zd::Operation *ops = const_cast<zd::Operation *>(facts->ops.items);
  for (size_t i = 0; i < facts->ops.size(); i++) {
    if (ops[i].kind != zd::OpKind::AlterColumnType) continue;
    while (next != nullptr && lfirst_node(AlterTableCmd, next)->subtype != AT_AlterColumnType)
      next = lnext(((const AlterTableStmt *) stmt)->cmds, next);
    if (next == nullptr) return;
    AlterTableCmd *cmd = lfirst_node(AlterTableCmd, next);
    if (!relation_is_new(o, ops[i].table.oid) && touches_relation(o, ops[i].table.oid))
      apply_type_change(o, &ops[i], cmd->name, castNode(ColumnDef, cmd->def));
    next = lnext(((const AlterTableStmt *) stmt)->cmds, next);
  }
}

}  // namespace zd::pg
