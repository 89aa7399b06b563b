#include "pg/schema_roles.hpp"

#include "pg/guc.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/syscache.h"
}

namespace zd::pg {
namespace {

// The setting parsed by its check hook: names, nullptr-terminated, in GUC "extra" memory.
const char *const kNoRoles[] = {nullptr};
const char *const *role_names = kNoRoles;
const char *roles_text = "";

// What was last decided, valid until a callback or the setting says otherwise.
bool cache_valid = false;
Oid cached_user = InvalidOid;
bool cached_answer = false;

// Role names by OID (two slots: the current and the session user).
struct NameSlot {
  Oid role;
  char name[NAMEDATALEN];
};
NameSlot name_slots[2] = {{InvalidOid, ""}, {InvalidOid, ""}};
int next_slot = 0;

void forget(Datum, ZD_SYSCACHE_ID, uint32) {
  cache_valid = false;
  name_slots[0].role = name_slots[1].role = InvalidOid;
}

}  // namespace

bool check_schema_roles(char **newval, void **extra, GucSource source) {
  // A role need not exist yet (the setting may come before the role): unknown names match no
  // one.  (Nor can a check hook read the catalog: it also runs in the postmaster.)
  return check_name_list(newval, extra, nullptr);
}

void assign_schema_roles(const char *newval, void *extra) {
  role_names = extra ? (const char *const *) extra : kNoRoles;
  roles_text = newval != nullptr ? newval : "";
  cache_valid = false;
}

void register_schema_role_callbacks() {
  CacheRegisterSyscacheCallback(AUTHOID, forget, (Datum) 0);
  CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget, (Datum) 0);
}

bool current_user_is_schema_role() {
  const Oid user = GetUserId();
  if (cache_valid && cached_user == user) return cached_answer;
  bool member = false;
  for (const char *const *name = role_names; *name != nullptr && !member; ++name) {
    const Oid role = get_role_oid(*name, true);
    // (is_member_of_role_nosuper: a superuser is a member of what it is granted, not of all.)
    member = OidIsValid(role) && is_member_of_role_nosuper(user, role);
  }
  cached_user = user;
  cached_answer = member;
  cache_valid = true;
  return member;
}

const char *schema_roles_text() { return roles_text; }

const char *role_name(Oid roleid) {
  for (NameSlot &slot : name_slots)
    if (slot.role == roleid && OidIsValid(roleid)) return slot.name;
  HeapTuple tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
  if (!HeapTupleIsValid(tup)) return "?";
  NameSlot &slot = name_slots[next_slot];
  next_slot = (next_slot + 1) % 2;
  strlcpy(slot.name, NameStr(((Form_pg_authid) GETSTRUCT(tup))->rolname), NAMEDATALEN);
  slot.role = roleid;
  ReleaseSysCache(tup);
  return slot.name;
}

}  // namespace zd::pg
