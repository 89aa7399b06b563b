// What a DROP removes besides what it names: DROP SCHEMA / TYPE / DOMAIN / FUNCTION / PROCEDURE
// / EXTENSION ... CASCADE and DROP OWNED BY take tables and columns with them.  The tables and
// columns they would remove are found by walking pg_depend from the named objects, as
// PostgreSQL's findDependentObjects does when it cascades (every dependent goes), and each one
// is judged by the drop-table or drop-column rule like a direct DROP: refused when it holds
// rows.  The named objects are looked up without taking a lock (PostgreSQL locks them when the
// statement runs); nothing is evaluated.
#include "pg/gather_internal.hpp"

#include "pg/dependencies.hpp"
#include "pg/sql_tokens.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_shdepend.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// A walk stops here: a statement that removes more objects than this is judged on those found.
const int kMaxObjects = 20000;

struct Walk {
  bool types_only;  // follow only types (domains over a domain, its array): the columns of a type
  List *queue;    // of ObjectAddress *: every object reached, in the order reached
  int named;      // the first `named` of them are the ones the statement names
  HTAB *seen;     // ObjectAddress -> itself
  List *tables;   // Oids of the tables removed
  List *columns;  // of ObjectAddress * (a table's column) removed, their table staying
};

Walk new_walk() {
  HASHCTL ctl;
  memset(&ctl, 0, sizeof ctl);
  ctl.keysize = sizeof(ObjectAddress);
  ctl.entrysize = sizeof(ObjectAddress);
  ctl.hcxt = CurrentMemoryContext;
  return Walk{false, NIL, 0,
              hash_create("zero_downtime cascade", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT),
              NIL, NIL};
}

void visit(Walk *w, Oid classid, Oid objid, int32 subid) {
  if (list_length(w->queue) >= kMaxObjects) return;
  if (w->types_only && classid != TypeRelationId && classid != RelationRelationId) return;
  ObjectAddress key;
  memset(&key, 0, sizeof key);  // (hashed as bytes)
  key.classId = classid;
  key.objectId = objid;
  key.objectSubId = subid;
  bool found;
  ObjectAddress *a = (ObjectAddress *) hash_search(w->seen, &key, HASH_ENTER, &found);
  if (found) return;
  if (!w->types_only || classid == TypeRelationId) w->queue = lappend(w->queue, a);
  if (classid != RelationRelationId) return;
  const char kind = get_rel_relkind(objid);
  if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE) return;  // data: tables only
  if (subid == 0)
    w->tables = list_append_unique_oid(w->tables, objid);
  else
    w->columns = lappend(w->columns, a);
}

// Every object that depends on `a` (on any column of it, when `a` is a whole object), and what
// `a` is an internal part of (when a part goes, PostgreSQL removes the whole it belongs to).
void visit_dependents(Walk *w, const ObjectAddress *a) {
  ListCell *lc;
  foreach (lc, dependents_of(*a)) {
    const ObjectAddress *d = (const ObjectAddress *) lfirst(lc);
    visit(w, d->classId, d->objectId, d->objectSubId);
  }
}

void visit_owners(Walk *w, const ObjectAddress *a) {
  ListCell *lc;
  foreach (lc, internal_owners_of(*a)) {
    const ObjectAddress *o = (const ObjectAddress *) lfirst(lc);
    visit(w, o->classId, o->objectId, o->objectSubId);
  }
}

// The objects a role owns in this database (pg_shdepend).
void visit_owned_by(Walk *w, Oid role) {
  ListCell *lc;
  foreach (lc, owned_by(role)) {
    const ObjectAddress *o = (const ObjectAddress *) lfirst(lc);
    visit(w, o->classId, o->objectId, o->objectSubId);
  }
}

// The object a DROP names, looked up without a lock; InvalidOid when it is not there or not a
// kind this walk follows.
ObjectAddress named_object(ObjectType type, Node *name) {
  ObjectAddress a{InvalidOid, InvalidOid, 0};
  switch (type) {
    case OBJECT_SCHEMA:
      a = {NamespaceRelationId, get_namespace_oid(strVal(name), true), 0};
      break;
    case OBJECT_TYPE:
    case OBJECT_DOMAIN:
      a = {TypeRelationId, LookupTypeNameOid(nullptr, (TypeName *) name, true), 0};
      break;
    case OBJECT_FUNCTION:
    case OBJECT_PROCEDURE:
    case OBJECT_ROUTINE:
    case OBJECT_AGGREGATE:
      a = {ProcedureRelationId, LookupFuncWithArgs(type, (ObjectWithArgs *) name, true), 0};
      break;
    case OBJECT_EXTENSION:
      a = {ExtensionRelationId, get_extension_oid(strVal(name), true), 0};
      break;
    default:
      break;
  }
  return a;
}

// Every table and column of the walk becomes an operation for the drop-table / drop-column
// rules, on behalf of `command`.
void add_removed(Gathering *g, const Walk *w, const char *command) {
  ListCell *lc;
  foreach (lc, w->tables)
    add_operation(g, zd::OpKind::DropTable, lfirst_oid(lc), AccessExclusiveLock, command, true)
        ->through_other_object = true;
  foreach (lc, w->columns) {
    const ObjectAddress *c = (const ObjectAddress *) lfirst(lc);
    if (list_member_oid(w->tables, c->objectId)) continue;  // the whole table goes
    char *column = get_attname(c->objectId, (AttrNumber) c->objectSubId, true);
    if (column == nullptr) continue;
    zd::Operation *op = add_operation(g, zd::OpKind::DropColumn, c->objectId, AccessExclusiveLock,
                                      command, true);
    op->column = quote_identifier(column);
    op->through_other_object = true;
  }
}

void walk_all(Walk *w) {
  for (int i = 0; i < list_length(w->queue) && i < kMaxObjects; i++) {
    const ObjectAddress *a = (const ObjectAddress *) list_nth(w->queue, i);
    visit_dependents(w, a);
    if (i >= w->named) visit_owners(w, a);  // (a named object's owner: PostgreSQL refuses)
  }
}

}  // namespace

void gather_drop_cascade(Gathering *g, DropStmt *stmt) {
  if (stmt->behavior != DROP_CASCADE) return;  // without CASCADE, dependents make it fail
  Walk w = new_walk();
  ListCell *lc;
  foreach (lc, stmt->objects) {
    ObjectAddress a = named_object(stmt->removeType, (Node *) lfirst(lc));
    if (OidIsValid(a.objectId)) visit(&w, a.classId, a.objectId, a.objectSubId);
  }
  w.named = list_length(w.queue);
  if (w.queue == NIL) return;
  walk_all(&w);
  add_removed(g, &w, psprintf("DROP %s ... CASCADE",
                              stmt->removeType == OBJECT_SCHEMA      ? "SCHEMA"
                              : stmt->removeType == OBJECT_EXTENSION ? "EXTENSION"
                              : stmt->removeType == OBJECT_TYPE      ? "TYPE"
                              : stmt->removeType == OBJECT_DOMAIN    ? "DOMAIN"
                                                                     : "FUNCTION"));
}

void gather_alter_domain(Gathering *g, AlterDomainStmt *stmt) {
  // Only these check every row of every column of the domain (validateDomainConstraint,
  // under SHARE on each table: writes wait); ADD CONSTRAINT ... NOT VALID does not.
  const bool add = stmt->subtype == 'C' && stmt->def != nullptr && IsA(stmt->def, Constraint) &&
                   !((Constraint *) stmt->def)->skip_validation;
  if (!add && stmt->subtype != 'V' && stmt->subtype != 'O') return;
  const Oid domain = LookupTypeNameOid(nullptr, makeTypeNameFromNameList(stmt->typeName), true);
  if (!OidIsValid(domain)) return;
  Walk w = new_walk();
  w.types_only = true;
  visit(&w, TypeRelationId, domain, 0);
  w.named = 1;
  walk_all(&w);
  const char *command = stmt->subtype == 'C'   ? "ALTER DOMAIN ... ADD CONSTRAINT"
                        : stmt->subtype == 'V' ? "ALTER DOMAIN ... VALIDATE CONSTRAINT"
                                               : "ALTER DOMAIN ... SET NOT NULL";
  List *tables = NIL;
  ListCell *lc;
  foreach (lc, w.columns)
    tables = list_append_unique_oid(tables, ((const ObjectAddress *) lfirst(lc))->objectId);
  HeapTuple type = SearchSysCache1(TYPEOID, ObjectIdGetDatum(domain));
  if (!HeapTupleIsValid(type)) return;
  const Oid nsp = ((Form_pg_type) GETSTRUCT(type))->typnamespace;
  const char *domain_name = pstrdup(NameStr(((Form_pg_type) GETSTRUCT(type))->typname));
  ReleaseSysCache(type);
  const char *qualified = quote_qualified_identifier(get_namespace_name(nsp), domain_name);
  const char *constraint = stmt->subtype == 'V' ? stmt->name
                           : !add              ? nullptr
                           : ((Constraint *) stmt->def)->conname != nullptr
                               ? ((Constraint *) stmt->def)->conname
                               : ChooseConstraintName(domain_name, nullptr, "check", nsp, NIL);
  foreach (lc, tables) {
    zd::Operation *op =
        add_operation(g, zd::OpKind::DomainCheck, lfirst_oid(lc), ShareLock, command);
    op->through_other_object = true;
    op->domain_name = qualified;
    if (constraint != nullptr) op->constraint_name = quote_identifier(constraint);
    if (add) op->not_valid_at = offset_after_last_token(g->sql);
  }
}

void gather_drop_owned(Gathering *g, DropOwnedStmt *stmt) {
  Walk w = new_walk();
  ListCell *lc;
  foreach (lc, stmt->roles) {
    const Oid role = get_rolespec_oid(lfirst_node(RoleSpec, lc), true);
    if (OidIsValid(role)) visit_owned_by(&w, role);
  }
  w.named = list_length(w.queue);  // (dropped as owned: their owners are not followed)
  if (w.queue == NIL) return;
  if (stmt->behavior == DROP_CASCADE) walk_all(&w);
  add_removed(g, &w, "DROP OWNED");
}

}  // namespace zd::pg
