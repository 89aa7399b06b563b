// zero_downtime.schema_roles: the roles allowed to change the schema, and whether the current
// user is one of them (a member of one: membership counts).  The answer is cached per backend
// and dropped whenever pg_authid or pg_auth_members change (syscache callbacks) or the
// setting does: on the hot path it is one comparison.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace zd::pg {

// The GUC's hooks (guc.cpp defines the setting).
bool check_schema_roles(char **newval, void **extra, GucSource source);
void assign_schema_roles(const char *newval, void *extra);

// From _PG_init: the invalidation callbacks.
void register_schema_role_callbacks();

// current_user (GetUserId()) is a member of a role of zero_downtime.schema_roles, directly or
// through other roles, with or without INHERIT (a member can SET ROLE to it).  A superuser is
// not one unless listed (or a member of one listed): superusers get no pass.  In a transaction.
bool current_user_is_schema_role();

// The setting as written ("" when empty), for messages.
const char *schema_roles_text();

// The name of a role, cached (the current and session user's names are asked for on every
// schema change).  In a transaction.
const char *role_name(Oid roleid);

}  // namespace zd::pg
