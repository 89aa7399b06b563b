#include "pg/trusted_code.hpp"

#include "pg/check_constraints.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
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
  if (IsA(node, CoerceToDomain) && ZD_DOMAIN_HAS_CONSTRAINTS(((CoerceToDomain *) node)->resulttype))
    return true;
  return expression_tree_walker(node, (bool (*)()) contains_untrusted, context);
}

}  // namespace

bool runs_only_trusted_code(Node *expr) { return !contains_untrusted(expr, nullptr); }

bool checks_run_only_trusted_code(Oid relid) {
  ListCell *lc;
  foreach (lc, valid_check_constraints(relid))
    if (!runs_only_trusted_code(((CheckConstraint *) lfirst(lc))->expr)) return false;
  return true;
}

bool caller_owns_relation(Oid relid) { return ZD_RELATION_OWNERCHECK(relid, GetUserId()); }

}  // namespace zd::pg
