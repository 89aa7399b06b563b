// The object a journal entry names, as the catalog knows it rather than as the statement wrote
// it: a relation (also for COMMENT ON COLUMN, GRANT ON TABLE) schema-qualified, each part
// quoted as quote_identifier does, so that `orders`, `public.orders` and `"orders"` are one
// object in zd_schema_drift() (the session's temporary schema: pg_temp).
// A name the statement did not qualify is looked up on the search path (the schema the
// relation is found in; when it does not exist yet, a CREATE, the schema it is created in).
// Other objects: as statement_object() names them.
//
// Looked up before every journaled statement, so cached: an unqualified name's schema is kept
// until pg_class, pg_namespace or a role membership changes (syscache callbacks: a relation
// created, renamed, dropped or moved; a schema's privileges) or the search path or the user
// does.  A hit costs a few string compares.
#include "pg/journal.hpp"
#include "pg/compat.h"

#include "pg/schema_target.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// An unqualified relation name and its quoted, qualified name.
struct Slot {
  char relname[NAMEDATALEN];
  bool creating;  // (looked up for a CREATE: a name not found is the creation schema's)
  bool temporary;  // (CREATE TEMP: pg_temp, whatever the search path)
  char qualified[2 * (2 * NAMEDATALEN + 2) + 2];
};
constexpr int kSlots = 8;
Slot slots[kSlots];
int used = 0, next_slot = 0;
Oid cached_user = InvalidOid;
char *cached_path = nullptr;  // the search path the slots were found with (TopMemoryContext)
bool callbacks_registered = false;

extern "C" void forget_names(Datum, ZD_SYSCACHE_ID, uint32) { used = 0; }

bool cache_current() {
  const char *path = namespace_search_path != nullptr ? namespace_search_path : "";
  if (used > 0 && cached_user == GetUserId() && cached_path != nullptr &&
      strcmp(cached_path, path) == 0)
    return true;
  if (!callbacks_registered) {
    CacheRegisterSyscacheCallback(RELOID, forget_names, (Datum) 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, forget_names, (Datum) 0);
    CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_names, (Datum) 0);
    callbacks_registered = true;
  }
  used = 0;
  next_slot = 0;
  cached_user = GetUserId();
  if (cached_path == nullptr || strcmp(cached_path, path) != 0) {
    if (cached_path != nullptr) pfree(cached_path);
    cached_path = MemoryContextStrdup(TopMemoryContext, path);
  }
  return false;
}

// A schema's name; the session's temporary schema is pg_temp (its number changes).
const char *schema_name(Oid nsp) {
  return isTempOrTempToastNamespace(nsp) ? "pg_temp" : get_namespace_name(nsp);
}

// The schema an unqualified relation name means here (nullptr: none, left unqualified).  A
// relation that does not exist: for a CREATE, the schema it is created in; otherwise none
// (the statement fails).  Never an error: the statement reports what is wrong when it runs.
const char *schema_of_unqualified(const char *relname, bool creating, bool temporary) {
  if (temporary) return "pg_temp";
  const Oid relid = RelnameGetRelid(relname);  // (the search path: schemas the role may use)
  if (OidIsValid(relid)) return schema_name(get_rel_namespace(relid));
  if (!creating) return nullptr;
  List *path = fetch_search_path(false);  // (the first schema of the path)
  return path != NIL ? schema_name(linitial_oid(path)) : nullptr;
}

const char *qualified_relation(const char *schema, const char *relname, bool creating,
                               bool temporary) {
  if (relname == nullptr) return nullptr;
  if (schema != nullptr) return quote_qualified_identifier(schema, relname);
  const bool current = cache_current();
  if (current)
    for (int i = 0; i < used; i++)
      if (slots[i].creating == creating && slots[i].temporary == temporary &&
          strcmp(slots[i].relname, relname) == 0)
        return slots[i].qualified;
  const char *found = schema_of_unqualified(relname, creating, temporary);
  const char *name = found != nullptr ? quote_qualified_identifier(found, relname)
                                      : quote_identifier(relname);
  if (strlen(relname) < NAMEDATALEN && strlen(name) < sizeof slots[0].qualified) {
    Slot &s = slots[next_slot];
    strlcpy(s.relname, relname, sizeof s.relname);
    strlcpy(s.qualified, name, sizeof s.qualified);
    s.creating = creating;
    s.temporary = temporary;
    next_slot = (next_slot + 1) % kSlots;
    if (used < kSlots) used++;
  }
  return name;
}

const char *range_var(const RangeVar *rv, bool creating = false) {
  if (rv == nullptr) return nullptr;
  return qualified_relation(rv->schemaname, rv->relname, creating,
                            creating && rv->schemaname == nullptr &&
                                rv->relpersistence == RELPERSISTENCE_TEMP);
}

// GRANT ... ON a, b: "public.a, public.b".
const char *range_vars(const List *rvs) {
  if (list_length(rvs) == 1) return range_var((const RangeVar *) linitial(rvs));
  StringInfoData out;
  initStringInfo(&out);
  ListCell *lc;
  foreach (lc, rvs) {
    const char *name = range_var((const RangeVar *) lfirst(lc));
    appendStringInfo(&out, "%s%s", out.len > 0 ? ", " : "", name != nullptr ? name : "?");
  }
  return out.data;
}

bool is_relation(ObjectType type) {
  return type == OBJECT_TABLE || type == OBJECT_INDEX || type == OBJECT_VIEW ||
         type == OBJECT_MATVIEW || type == OBJECT_SEQUENCE || type == OBJECT_FOREIGN_TABLE;
}

// A relation's name list ([catalog.][schema.]relation), or a column's (`column`: the name of
// its relation, the object the drift report groups it under).
const char *name_list(const Node *names, bool column) {
  if (names == nullptr || !IsA(names, List)) return nullptr;
  List *parts = (List *) names;
  const int n = list_length(parts) - (column ? 1 : 0);
  if (n < 1 || n > 3) return nullptr;
  const char *rel = strVal(list_nth(parts, n - 1));
  const char *schema = n >= 2 ? strVal(list_nth(parts, n - 2)) : nullptr;
  return qualified_relation(schema, rel, false, false);
}

// DROP TABLE a, b: "public.a, public.b".
const char *name_lists(const List *objects) {
  if (list_length(objects) == 1) return name_list((const Node *) linitial(objects), false);
  StringInfoData out;
  initStringInfo(&out);
  ListCell *lc;
  foreach (lc, objects) {
    const char *name = name_list((const Node *) lfirst(lc), false);
    appendStringInfo(&out, "%s%s", out.len > 0 ? ", " : "", name != nullptr ? name : "?");
  }
  return out.data;
}

// The resolved name of a relation statement, or nullptr (another kind of object).
const char *relation_object(const Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: return range_var(((const AlterTableStmt *) stmt)->relation);
    case T_IndexStmt: return range_var(((const IndexStmt *) stmt)->relation);
    case T_CreateStmt: return range_var(((const CreateStmt *) stmt)->relation, true);
    case T_CreateForeignTableStmt:
      return range_var(((const CreateForeignTableStmt *) stmt)->base.relation, true);
    case T_ViewStmt: return range_var(((const ViewStmt *) stmt)->view, true);
    case T_CreateTableAsStmt: return range_var(((const CreateTableAsStmt *) stmt)->into->rel, true);
    case T_CreateSeqStmt: return range_var(((const CreateSeqStmt *) stmt)->sequence, true);
    case T_AlterSeqStmt: return range_var(((const AlterSeqStmt *) stmt)->sequence);
    case T_CreateTrigStmt: return range_var(((const CreateTrigStmt *) stmt)->relation);
    case T_RuleStmt: return range_var(((const RuleStmt *) stmt)->relation);
    case T_CreatePolicyStmt: return range_var(((const CreatePolicyStmt *) stmt)->table);
    case T_AlterPolicyStmt: return range_var(((const AlterPolicyStmt *) stmt)->table);
    case T_RenameStmt: return range_var(((const RenameStmt *) stmt)->relation);
    case T_AlterObjectSchemaStmt: return range_var(((const AlterObjectSchemaStmt *) stmt)->relation);
    case T_DropStmt: {
      const DropStmt *d = (const DropStmt *) stmt;
      return is_relation(d->removeType) && d->objects != NIL ? name_lists(d->objects) : nullptr;
    }
    case T_GrantStmt: {
      const GrantStmt *g = (const GrantStmt *) stmt;
      return g->targtype == ACL_TARGET_OBJECT && is_relation(g->objtype) && g->objects != NIL
                 ? range_vars(g->objects)
                 : nullptr;
    }
    case T_CommentStmt: {
      const CommentStmt *c = (const CommentStmt *) stmt;
      if (c->objtype == OBJECT_COLUMN) return name_list(c->object, true);
      return is_relation(c->objtype) ? name_list(c->object, false) : nullptr;
    }
    default: return nullptr;
  }
}

}  // namespace

const char *journal_object(const Node *stmt) {
  const char *name = relation_object(stmt);
  return name != nullptr ? name : statement_object(stmt);
}

}  // namespace zd::pg
