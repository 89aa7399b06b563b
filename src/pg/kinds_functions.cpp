// zd_statement_kinds() and zd_alter_table_subcommands(): the guard's tables of statement kinds
// and ALTER TABLE subcommands, with what it does with each (what the enumeration tests read).
#include "core/rule_catalog.hpp"
#include "pg/alter_subcommands.hpp"
#include "pg/boundary.hpp"
#include "pg/statement_kinds.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

namespace {

Datum text_or_null(const char *s, bool *isnull) {
  *isnull = s == nullptr;
  return s == nullptr ? (Datum) 0 : CStringGetTextDatum(s);
}

// The rules that judge an operation of `kind` (not counting long-under-held-lock, which looks
// at every kind in a transaction holding a blocking lock).
ArrayType *rules_judging(zd::OpKind kind) {
  Datum names[64];
  int n = 0;
  for (size_t i = 0; i < zd::kRuleCount && n < 64; i++)
    if (zd::kRules[i].looks_at != zd::kAllKinds && zd::kRules[i].looks_at_kind(kind))
      names[n++] = CStringGetTextDatum(zd::kRules[i].name);
  return construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT);
}

}  // namespace

ZD_SQL_FUNCTION(zd_statement_kinds) {
  using namespace zd::pg;
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  for (size_t i = 0; i < kStatementKindCount; i++) {
    const StatementKind &k = kStatementKinds[i];
    Datum values[5] = {CStringGetTextDatum(k.tag_name), CStringGetTextDatum(k.statement),
                       CStringGetTextDatum(handling_name(k.handling)),
                       CStringGetTextDatum(k.locks),
                       CStringGetTextDatum(schema_change_name(k.schema))};
    bool nulls[5] = {false, false, false, false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum) 0;
}

ZD_SQL_FUNCTION(zd_alter_table_subcommands) {
  using namespace zd::pg;
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  for (size_t i = 0; i < kAlterSubcommandCount; i++) {
    const AlterSubcommand &s = kAlterSubcommands[i];
    bool nulls[4] = {false, false, false, false};
    Datum values[4] = {CStringGetTextDatum(s.subtype_name), text_or_null(s.spelling, &nulls[1]),
                       CStringGetTextDatum(zd::op_kind_name(s.kind)),
                       PointerGetDatum(rules_judging(s.kind))};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum) 0;
}
