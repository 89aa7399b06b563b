// zd_rules(): the rule registry (core/rule_catalog.hpp), so that names for zero_downtime.allow
// can be looked up in SQL, with the kinds of operation each rule judges.
#include "core/rule_catalog.hpp"
#include "pg/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

namespace {

ArrayType *kind_names(uint64_t looks_at) {
  Datum names[zd::kOpKindCount];
  int n = 0;
  for (int k = 0; k < zd::kOpKindCount; k++)
    if (looks_at & zd::bit((zd::OpKind) k))
      names[n++] = CStringGetTextDatum(zd::op_kind_name((zd::OpKind) k));
  return construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT);
}

}  // namespace

ZD_SQL_FUNCTION(zd_rules) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  for (size_t i = 0; i < zd::kRuleCount; i++) {
    Datum values[3] = {CStringGetTextDatum(zd::kRules[i].name),
                       CStringGetTextDatum(zd::kRules[i].summary),
                       PointerGetDatum(kind_names(zd::kRules[i].looks_at))};
    bool nulls[3] = {false, false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum) 0;
}
