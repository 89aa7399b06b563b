// The planned expressions of the fill and sync triggers, kept for the session: parsing and planning an
// expression (search_path pinned, prepare_normalized) once per trigger instead of once per
// statement, so a stream of one-row INSERTs pays for it once.  Each statement still builds its
// own ExprState from a copy of the kept tree (cheap; the executor's per-query state never
// outlives it).
// An entry is dropped when anything its meaning or its trust decision depends on may have
// changed: its table (relcache: a column's type, the triggers, the owner), any function,
// operator, cast, type or domain constraint (the names it was bound to, the owners that make
// it trusted), or any role (superuser or not).  Such changes are rare; the next statement then
// prepares it again.
#include "pg/expand/expand.hpp"
#include "pg/compat.h"

extern "C" {
#include "nodes/nodes.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace zd::pg::expand {
namespace {

struct Key {
  Oid trigger;
  int slot;
};

struct Entry {
  Key key;  // (first: the hash key)
  Oid relid;
  bool valid;
  bool untrusted;
  MemoryContext context;  // the entry's own: text and tree, dropped together
  const char *text;
  Expr *expr;
};

HTAB *cache = nullptr;
uint64 generation = 0;  // moves at every invalidation that may concern an entry

void forget_relation(Datum, Oid relid) {
  generation++;
  HASH_SEQ_STATUS scan;
  hash_seq_init(&scan, cache);
  for (Entry *e; (e = (Entry *) hash_seq_search(&scan)) != nullptr;)
    if (!OidIsValid(relid) || e->relid == relid) e->valid = false;
}

void forget_all(Datum, ZD_SYSCACHE_ID, uint32) {
  generation++;
  HASH_SEQ_STATUS scan;
  hash_seq_init(&scan, cache);
  for (Entry *e; (e = (Entry *) hash_seq_search(&scan)) != nullptr;) e->valid = false;
}

void create_cache() {
  HASHCTL ctl;
  ctl.keysize = sizeof(Key);
  ctl.entrysize = sizeof(Entry);
  ctl.hcxt = CacheMemoryContext;
  cache = hash_create("zero_downtime trigger expressions", 16, &ctl,
                      HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  CacheRegisterRelcacheCallback(forget_relation, (Datum) 0);
  for (const int id : {PROCOID, OPEROID, TYPEOID, CONSTROID, CASTSOURCETARGET, AUTHOID,
                       AUTHMEMROLEMEM})
    CacheRegisterSyscacheCallback((ZD_SYSCACHE_ID) id, forget_all, (Datum) 0);
}

}  // namespace

Expr *cached_expression(Relation rel, Oid trigger, int slot, const char *text, AttrNumber target,
                        bool *untrusted) {
  if (cache == nullptr) create_cache();
  Key key{trigger, slot};
  Entry *e = (Entry *) hash_search(cache, &key, HASH_FIND, nullptr);
  if (e != nullptr && e->valid && e->relid == RelationGetRelid(rel) && strcmp(e->text, text) == 0) {
    *untrusted = e->untrusted;
    // A copy in the caller's memory: the ExprState built from it points into it (a constant's
    // value), and the kept tree goes when a later statement prepares this entry again, perhaps
    // while this one still runs (a nested statement writing the same table).
    return (Expr *) copyObjectImpl(e->expr);
  }
  // Prepared in the caller's memory first: an error leaves the cache as it was.  An
  // invalidation while it was prepared may concern what it was made from: not kept then.
  const uint64 before = generation;
  Expr *planned = prepare_normalized(rel, text, target, untrusted);
  if (generation != before) return planned;
  MemoryContext context =
      AllocSetContextCreate(CacheMemoryContext, "zero_downtime fill expression",
                            ALLOCSET_SMALL_SIZES);
  MemoryContext old = MemoryContextSwitchTo(context);
  Expr *kept = (Expr *) copyObjectImpl(planned);
  const char *kept_text = pstrdup(text);
  MemoryContextSwitchTo(old);
  bool found;
  e = (Entry *) hash_search(cache, &key, HASH_ENTER, &found);
  if (found) MemoryContextDelete(e->context);
  e->relid = RelationGetRelid(rel);
  e->valid = true;
  e->untrusted = *untrusted;
  e->context = context;
  e->text = kept_text;
  e->expr = kept;
  return planned;
}

}  // namespace zd::pg::expand
