// zd_rules(): the rule catalogue, so that names for zero_downtime.allow can be looked up in SQL.
#include "core/rule_catalog.hpp"
#include "pg/boundary.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

ZD_SQL_FUNCTION(zd_rules) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  for (size_t i = 0; i < zd::kRuleCount; i++) {
    Datum values[2] = {CStringGetTextDatum(zd::kRules[i].name),
                       CStringGetTextDatum(zd::kRules[i].summary)};
    bool nulls[2] = {false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum) 0;
}
