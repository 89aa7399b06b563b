#include "pg/dependencies.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_shdepend.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
}

namespace zd::pg {
namespace {

ObjectAddress *address(Oid classid, Oid objid, int32 subid) {
  ObjectAddress *a = (ObjectAddress *) palloc(sizeof(ObjectAddress));
  a->classId = classid;
  a->objectId = objid;
  a->objectSubId = subid;
  return a;
}

// Scans pg_depend on `index` for rows whose (class, object[, subid]) columns match `object`;
// `dependents`: the depender side of each match, else the referenced side of the internal ones.
List *scan(const ObjectAddress &object, bool dependents) {
  List *found = NIL;
  Relation depend = table_open(DependRelationId, AccessShareLock);
  ScanKeyData keys[3];
  ScanKeyInit(&keys[0], dependents ? Anum_pg_depend_refclassid : Anum_pg_depend_classid,
              BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(object.classId));
  ScanKeyInit(&keys[1], dependents ? Anum_pg_depend_refobjid : Anum_pg_depend_objid,
              BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(object.objectId));
  ScanKeyInit(&keys[2], dependents ? Anum_pg_depend_refobjsubid : Anum_pg_depend_objsubid,
              BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(object.objectSubId));
  const int nkeys = dependents && object.objectSubId == 0 ? 2 : 3;
  SysScanDesc scan = systable_beginscan(
      depend, dependents ? DependReferenceIndexId : DependDependerIndexId, true, nullptr, nkeys,
      keys);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tuple);
    if (dependents)
      found = lappend(found, address(d->classid, d->objid, d->objsubid));
    else if (d->deptype == DEPENDENCY_INTERNAL)
      found = lappend(found, address(d->refclassid, d->refobjid, d->refobjsubid));
  }
  systable_endscan(scan);
  table_close(depend, AccessShareLock);
  return found;
}

}  // namespace

List *dependents_of(const ObjectAddress &object) { return scan(object, true); }

List *internal_owners_of(const ObjectAddress &object) { return scan(object, false); }

List *owned_by(Oid role) {
  List *owned = NIL;
  Relation shdepend = table_open(SharedDependRelationId, AccessShareLock);
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], Anum_pg_shdepend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(AuthIdRelationId));
  ScanKeyInit(&keys[1], Anum_pg_shdepend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(role));
  SysScanDesc scan =
      systable_beginscan(shdepend, SharedDependReferenceIndexId, true, nullptr, 2, keys);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    Form_pg_shdepend d = (Form_pg_shdepend) GETSTRUCT(tuple);
    if (d->dbid == MyDatabaseId && d->deptype == SHARED_DEPENDENCY_OWNER)
      owned = lappend(owned, address(d->classid, d->objid, d->objsubid));
  }
  systable_endscan(scan);
  table_close(shdepend, AccessShareLock);
  return owned;
}

}  // namespace zd::pg
