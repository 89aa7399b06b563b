#include "pg/trusted_code.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_proc.h"
#include "nodes/nodeFuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

namespace zd::pg {
namespace {

bool untrusted_function(Oid funcid, void *) {
  HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
  if (!HeapTupleIsValid(tuple)) return true;
  const Oid owner = ((Form_pg_proc) GETSTRUCT(tuple))->proowner;
  ReleaseSysCache(tuple);
  return !superuser_arg(owner);
}

bool contains_untrusted(Node *node, void *context) {
  if (node == nullptr) return false;
  if (check_functions_in_node(node, untrusted_function, context)) return true;
  // A domain's CHECK constraints run when a value is coerced to it: code of the domain's owner.
  if (IsA(node, CoerceToDomain) && DomainHasConstraints(((CoerceToDomain *) node)->resulttype))
    return true;
  return expression_tree_walker(node, (bool (*)()) contains_untrusted, context);
}

}  // namespace

bool runs_only_trusted_code(Node *expr) { return !contains_untrusted(expr, nullptr); }

bool checks_run_only_trusted_code(Oid relid) {
  bool trusted = true;
  Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(pg_constraint, ConstraintRelidTypidNameIndexId, true,
                                        nullptr, 1, &key);
  HeapTuple tuple;
  while (trusted && HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
    if (con->contype != CONSTRAINT_CHECK || !con->convalidated) continue;
    bool isnull;
    Datum bin = heap_getattr(tuple, Anum_pg_constraint_conbin, RelationGetDescr(pg_constraint),
                             &isnull);
    if (!isnull) trusted = runs_only_trusted_code((Node *) stringToNode(TextDatumGetCString(bin)));
  }
  systable_endscan(scan);
  table_close(pg_constraint, AccessShareLock);
  return trusted;
}

bool caller_owns_relation(Oid relid) { return pg_class_ownercheck(relid, GetUserId()); }

}  // namespace zd::pg
