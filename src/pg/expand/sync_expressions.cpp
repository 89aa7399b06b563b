// The sync trigger's prepared expressions, kept across statements.  Preparing one (parsing it
// with search_path pinned, analysing, planning) costs more than the write it serves: done per
// statement, an application's single-row INSERT paid it each time.  So the planned tree is kept
// per trigger, in a context of this backend's cache, until something it was made from may have
// changed: the table (a relcache invalidation of it, which ALTER TABLE and the trigger's own
// re-creation send), any function, type or role (catalog invalidations: a replaced function
// body, a dropped type, an owner no longer a superuser changes what the expression means or
// whether it is trusted).  An entry is also keyed by its text and target column, so a trigger
// whose arguments differ never reuses another's tree.
//
// Invalidation callbacks can run whenever the catalog is read, so nothing here holds a pointer
// into the cache across a catalog access: an entry is made elsewhere and copied in (a copy does
// not read the catalog), and what a caller gets is a copy in its own memory.
#include "pg/expand/expand.hpp"

extern "C" {
#include "nodes/nodes.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace zd::pg::expand {
namespace {

struct Prepared {
  Oid trigger;
  Oid relid;
  AttrNumber target;
  char *sql;
  Expr *expr;
  bool untrusted;
};

MemoryContext cache_context = nullptr;
Prepared *entries = nullptr;
int n_entries = 0;
const int kEntries = 64;  // expressions remembered (one more: all are forgotten)
uint64 generation = 0;    // moves at every forgetting

void forget_all() {
  generation++;
  n_entries = 0;
  if (cache_context != nullptr) MemoryContextReset(cache_context);
  entries = nullptr;
}

void forget_relation(Datum, Oid relid) {
  if (!OidIsValid(relid)) {
    forget_all();
    return;
  }
  for (int i = 0; i < n_entries; i++)
    if (entries[i].relid == relid) {
      forget_all();  // (entries share one context: forgetting one forgets them all)
      return;
    }
}

void forget_catalog(Datum, int, uint32) {
  if (n_entries > 0) forget_all();
}

void set_up_cache() {
  if (cache_context != nullptr) return;
  cache_context = AllocSetContextCreate(CacheMemoryContext, "zero_downtime sync expressions",
                                        ALLOCSET_SMALL_SIZES);
  CacheRegisterRelcacheCallback(forget_relation, (Datum) 0);
  CacheRegisterSyscacheCallback(PROCOID, forget_catalog, (Datum) 0);
  CacheRegisterSyscacheCallback(TYPEOID, forget_catalog, (Datum) 0);
  CacheRegisterSyscacheCallback(AUTHOID, forget_catalog, (Datum) 0);
}

const Prepared *find(Oid trigger, Oid relid, AttrNumber target, const char *sql) {
  for (int i = 0; i < n_entries; i++) {
    const Prepared &p = entries[i];
    if (p.trigger == trigger && p.relid == relid && p.target == target && strcmp(p.sql, sql) == 0)
      return &p;
  }
  return nullptr;
}

void remember(Oid trigger, Oid relid, AttrNumber target, const char *sql, const Expr *expr,
              bool untrusted) {
  if (n_entries == kEntries) forget_all();
  MemoryContext old = MemoryContextSwitchTo(cache_context);
  if (entries == nullptr) entries = (Prepared *) palloc(sizeof(Prepared) * kEntries);
  entries[n_entries++] = Prepared{trigger, relid, target, pstrdup(sql),
                                  (Expr *) copyObjectImpl(expr), untrusted};
  MemoryContextSwitchTo(old);
}

}  // namespace

Expr *prepared_sync_expression(Relation rel, Oid trigger, const char *normalized,
                               AttrNumber target, bool *untrusted) {
  set_up_cache();
  const Oid relid = RelationGetRelid(rel);
  if (const Prepared *p = find(trigger, relid, target, normalized)) {
    *untrusted = p->untrusted;
    return (Expr *) copyObjectImpl(p->expr);
  }
  // An invalidation while it was prepared may concern what it was made from: not kept then.
  const uint64 before = generation;
  Expr *expr = prepare_normalized(rel, normalized, target, untrusted);
  if (generation == before) remember(trigger, relid, target, normalized, expr, *untrusted);
  return expr;
}

}  // namespace zd::pg::expand
