#include "pg/statement_allow.hpp"

#include "core/rule_catalog.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
}

namespace zd::pg {
namespace {

const char kDirective[] = "zero_downtime:";

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || c == '-'; }

// Whoever may SET zero_downtime.allow (PGC_SUSET): a superuser, or a role granted SET on it.
void check_may_allow(const char *rules) {
  if (superuser() ||
      pg_parameter_aclcheck("zero_downtime.allow", GetUserId(), ACL_SET) == ACLCHECK_OK)
    return;
  const char *role = GetUserNameFromId(GetUserId(), false);
  ereport(ERROR,
          (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
           errmsg("zero_downtime: role \"%s\" may not allow %s for a statement", role, rules),
           errdetail("A /* zero_downtime: allow ... */ comment counts only for a role that may "
                     "set zero_downtime.allow: a superuser, or a role granted SET on it."),
           errhint("A superuser can grant it: GRANT SET ON PARAMETER zero_downtime.allow TO %s;",
                   quote_identifier(role))));
}

}  // namespace

Span<const zd::Text> statement_allows(const char *leading, int length) {
  List *names = NIL;
  const char *end = leading + length;
  for (const char *p = leading; p + sizeof kDirective - 1 <= end; p++) {
    if (pg_strncasecmp(p, kDirective, sizeof kDirective - 1) != 0) continue;
    p += sizeof kDirective - 1;
    while (p < end && *p == ' ') p++;
    if (end - p < 5 || pg_strncasecmp(p, "allow", 5) != 0) continue;
    p += 5;
    // The names: until the comment ends (or anything else).
    for (;;) {
      while (p < end && (*p == ' ' || *p == ',')) p++;
      const char *start = p;
      while (p < end && is_name_char(*p)) p++;
      if (p == start) break;
      const char *name = pnstrdup(start, p - start);
      if (zd::find_rule(name) == nullptr)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("zero_downtime: \"%s\" in the statement's allow comment is not a "
                               "rule",
                               name),
                        errhint("SELECT name FROM zd_rules() lists them.")));
      names = lappend(names, (void *) name);
    }
  }
  if (names == NIL) return {};
  StringInfoData list;
  initStringInfo(&list);
  ListCell *lc;
  foreach (lc, names) appendStringInfo(&list, "%s%s", list.len ? ", " : "", (char *) lfirst(lc));
  check_may_allow(list.data);
  zd::Text *texts = (zd::Text *) palloc0(sizeof(zd::Text) * list_length(names));
  int i = 0;
  foreach (lc, names) texts[i++] = (const char *) lfirst(lc);
  return {texts, (size_t) list_length(names)};
}

}  // namespace zd::pg
