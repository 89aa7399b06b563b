#include "pg/check_constraints.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_constraint.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

namespace zd::pg {

void for_each_constraint_of(Oid relid, void (*visit)(HeapTuple, TupleDesc, void *), void *arg) {
  Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(pg_constraint, ConstraintRelidTypidNameIndexId, true,
                                        nullptr, 1, &key);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan)))
    visit(tuple, RelationGetDescr(pg_constraint), arg);
  systable_endscan(scan);
  table_close(pg_constraint, AccessShareLock);
}

namespace {

void add_if_valid_check(HeapTuple tuple, TupleDesc desc, void *arg) {
  List **checks = (List **) arg;
  Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
  if (con->contype != CONSTRAINT_CHECK || !con->convalidated) return;
  bool isnull;
  Datum bin = heap_getattr(tuple, Anum_pg_constraint_conbin, desc, &isnull);
  if (isnull) return;
  CheckConstraint *c = (CheckConstraint *) palloc0(sizeof(CheckConstraint));
  c->oid = con->oid;
  c->name = pstrdup(NameStr(con->conname));
  c->expr = (Node *) stringToNode(TextDatumGetCString(bin));
  Datum conkey = heap_getattr(tuple, Anum_pg_constraint_conkey, desc, &isnull);
  if (!isnull) {
    ArrayType *keys = DatumGetArrayTypeP(conkey);
    const int16 *attnums = (const int16 *) ARR_DATA_PTR(keys);
    for (int i = 0; i < ARR_DIMS(keys)[0]; i++) c->columns = lappend_int(c->columns, attnums[i]);
  }
  *checks = lappend(*checks, c);
}

}  // namespace

List *valid_check_constraints(Oid relid) {
  List *checks = NIL;
  for_each_constraint_of(relid, add_if_valid_check, &checks);
  return checks;
}

}  // namespace zd::pg
