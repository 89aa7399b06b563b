#include "pg/schema_target.hpp"

#include "pg/table_facts.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "commands/dbcommands.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
}

namespace zd::pg {
namespace {

const char *range_var_name(const RangeVar *rv) {
  if (rv == nullptr) return nullptr;
  return rv->schemaname != nullptr ? quote_qualified_identifier(rv->schemaname, rv->relname)
                                   : quote_identifier(rv->relname);
}

// An object as the parser leaves it in DROP, COMMENT, RENAME, ALTER ... OWNER / SET SCHEMA.
const char *object_name(const Node *object) {
  if (object == nullptr) return nullptr;
  switch (nodeTag(object)) {
    case T_List: return NameListToQuotedString((List *) object);
    case T_String: return quote_identifier(strVal((Node *) object));
    case T_RangeVar: return range_var_name((const RangeVar *) object);
    case T_TypeName: return TypeNameToString((const TypeName *) object);
    case T_ObjectWithArgs: return NameListToQuotedString(((const ObjectWithArgs *) object)->objname);
    case T_AccessPriv: {  // (GRANT / REVOKE role: the roles granted)
      const char *name = ((const AccessPriv *) object)->priv_name;
      return name != nullptr ? quote_identifier(name) : nullptr;
    }
    case T_RoleSpec: {
      const RoleSpec *r = (const RoleSpec *) object;
      return r->roletype == ROLESPEC_CSTRING ? quote_identifier(r->rolename) : "CURRENT_ROLE";
    }
    default: return nullptr;
  }
}

// Several objects (DROP a, b; GRANT ON a, b; DROP ROLE a, b): "a, b".
const char *object_names(const List *objects) {
  if (objects == NIL) return nullptr;
  if (list_length(objects) == 1) return object_name((const Node *) linitial(objects));
  StringInfoData out;
  initStringInfo(&out);
  ListCell *lc;
  foreach (lc, objects) {
    const char *name = object_name((const Node *) lfirst(lc));
    appendStringInfo(&out, "%s%s", out.len > 0 ? ", " : "", name != nullptr ? name : "?");
  }
  return out.data;
}

// The relation `rv` names, or InvalidOid, never an error: a schema the role may not use, or
// another database, is PostgreSQL's to report when the statement runs (the policy's refusal
// must not be replaced by another error before the journal has the statement).
Oid lookup_quietly(const RangeVar *rv) {
  if (rv->catalogname != nullptr && strcmp(rv->catalogname, get_database_name(MyDatabaseId)) != 0)
    return InvalidOid;
  if (rv->schemaname == nullptr || strcmp(rv->schemaname, "pg_temp") == 0)
    return RangeVarGetRelid(rv, NoLock, true);  // (the search path: schemas the role may use)
  const Oid nsp = get_namespace_oid(rv->schemaname, true);
  if (!OidIsValid(nsp) || ZD_NAMESPACE_ACLCHECK(nsp, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
    return InvalidOid;
  return get_relname_relid(rv->relname, nsp);
}

// The relation a statement acts on, named by `rv`: temporary, or new in this transaction.
bool private_relation(const RangeVar *rv) {
  if (rv == nullptr) return false;
  return relation_is_private(lookup_quietly(rv));
}

// A relation the statement creates: TEMP, or in pg_temp.
bool creates_temporary(const RangeVar *rv) {
  return rv != nullptr && (rv->relpersistence == RELPERSISTENCE_TEMP ||
                           (rv->schemaname != nullptr && strcmp(rv->schemaname, "pg_temp") == 0));
}

bool drops_relations(ObjectType type) {
  return type == OBJECT_TABLE || type == OBJECT_INDEX || type == OBJECT_VIEW ||
         type == OBJECT_MATVIEW || type == OBJECT_SEQUENCE || type == OBJECT_FOREIGN_TABLE;
}

}  // namespace

const char *statement_object(const Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: return range_var_name(((const AlterTableStmt *) stmt)->relation);
    case T_IndexStmt: return range_var_name(((const IndexStmt *) stmt)->relation);
    case T_CreateStmt: return range_var_name(((const CreateStmt *) stmt)->relation);
    case T_CreateForeignTableStmt:
      return range_var_name(((const CreateForeignTableStmt *) stmt)->base.relation);
    case T_ViewStmt: return range_var_name(((const ViewStmt *) stmt)->view);
    case T_CreateTableAsStmt: return range_var_name(((const CreateTableAsStmt *) stmt)->into->rel);
    case T_CreateSeqStmt: return range_var_name(((const CreateSeqStmt *) stmt)->sequence);
    case T_AlterSeqStmt: return range_var_name(((const AlterSeqStmt *) stmt)->sequence);
    case T_CreateTrigStmt: return range_var_name(((const CreateTrigStmt *) stmt)->relation);
    case T_RuleStmt: return range_var_name(((const RuleStmt *) stmt)->relation);
    case T_CreatePolicyStmt: return range_var_name(((const CreatePolicyStmt *) stmt)->table);
    case T_AlterPolicyStmt: return range_var_name(((const AlterPolicyStmt *) stmt)->table);
    case T_CreateStatsStmt: return object_name((const Node *) ((const CreateStatsStmt *) stmt)->defnames);
    case T_RenameStmt: {
      const RenameStmt *r = (const RenameStmt *) stmt;
      return r->relation != nullptr ? range_var_name(r->relation) : object_name(r->object);
    }
    case T_AlterObjectSchemaStmt: {
      const AlterObjectSchemaStmt *a = (const AlterObjectSchemaStmt *) stmt;
      return a->relation != nullptr ? range_var_name(a->relation) : object_name(a->object);
    }
    case T_AlterOwnerStmt: {
      const AlterOwnerStmt *a = (const AlterOwnerStmt *) stmt;
      return a->relation != nullptr ? range_var_name(a->relation) : object_name(a->object);
    }
    case T_AlterObjectDependsStmt: {
      const AlterObjectDependsStmt *a = (const AlterObjectDependsStmt *) stmt;
      return a->relation != nullptr ? range_var_name(a->relation) : object_name(a->object);
    }
    case T_DropStmt: return object_names(((const DropStmt *) stmt)->objects);
    case T_CommentStmt: return object_name(((const CommentStmt *) stmt)->object);
    case T_SecLabelStmt: return object_name(((const SecLabelStmt *) stmt)->object);
    case T_GrantStmt: return object_names(((const GrantStmt *) stmt)->objects);
    case T_CreateFunctionStmt:
      return object_name((const Node *) ((const CreateFunctionStmt *) stmt)->funcname);
    case T_AlterFunctionStmt: return object_name((const Node *) ((const AlterFunctionStmt *) stmt)->func);
    case T_DefineStmt: return object_name((const Node *) ((const DefineStmt *) stmt)->defnames);
    case T_CreateDomainStmt:
      return object_name((const Node *) ((const CreateDomainStmt *) stmt)->domainname);
    case T_AlterDomainStmt: return object_name((const Node *) ((const AlterDomainStmt *) stmt)->typeName);
    case T_CompositeTypeStmt: return range_var_name(((const CompositeTypeStmt *) stmt)->typevar);
    case T_CreateEnumStmt: return object_name((const Node *) ((const CreateEnumStmt *) stmt)->typeName);
    case T_CreateRangeStmt: return object_name((const Node *) ((const CreateRangeStmt *) stmt)->typeName);
    case T_AlterEnumStmt: return object_name((const Node *) ((const AlterEnumStmt *) stmt)->typeName);
    case T_CreateSchemaStmt: {
      const CreateSchemaStmt *c = (const CreateSchemaStmt *) stmt;
      return c->schemaname != nullptr ? quote_identifier(c->schemaname)
                                      : object_name((const Node *) c->authrole);
    }
    case T_CreateExtensionStmt: return quote_identifier(((const CreateExtensionStmt *) stmt)->extname);
    case T_AlterExtensionStmt: return quote_identifier(((const AlterExtensionStmt *) stmt)->extname);
    case T_AlterExtensionContentsStmt:
      return quote_identifier(((const AlterExtensionContentsStmt *) stmt)->extname);
    case T_CreateRoleStmt: return quote_identifier(((const CreateRoleStmt *) stmt)->role);
    case T_AlterRoleStmt: return object_name((const Node *) ((const AlterRoleStmt *) stmt)->role);
    case T_DropRoleStmt: return object_names(((const DropRoleStmt *) stmt)->roles);
    case T_GrantRoleStmt: return object_names(((const GrantRoleStmt *) stmt)->granted_roles);
    case T_CreateEventTrigStmt: return quote_identifier(((const CreateEventTrigStmt *) stmt)->trigname);
    case T_AlterEventTrigStmt: return quote_identifier(((const AlterEventTrigStmt *) stmt)->trigname);
    case T_CreatePublicationStmt: return quote_identifier(((const CreatePublicationStmt *) stmt)->pubname);
    case T_AlterPublicationStmt: return quote_identifier(((const AlterPublicationStmt *) stmt)->pubname);
    case T_CreateSubscriptionStmt: return quote_identifier(((const CreateSubscriptionStmt *) stmt)->subname);
    case T_AlterSubscriptionStmt: return quote_identifier(((const AlterSubscriptionStmt *) stmt)->subname);
    case T_DropSubscriptionStmt: return quote_identifier(((const DropSubscriptionStmt *) stmt)->subname);
    case T_CreateForeignServerStmt:
      return quote_identifier(((const CreateForeignServerStmt *) stmt)->servername);
    case T_AlterForeignServerStmt:
      return quote_identifier(((const AlterForeignServerStmt *) stmt)->servername);
    case T_CreateUserMappingStmt:
      return quote_identifier(((const CreateUserMappingStmt *) stmt)->servername);
    case T_AlterUserMappingStmt:
      return quote_identifier(((const AlterUserMappingStmt *) stmt)->servername);
    case T_DropUserMappingStmt:
      return quote_identifier(((const DropUserMappingStmt *) stmt)->servername);
    default: return nullptr;
  }
}

bool only_private_objects(const Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_CreateStmt: return creates_temporary(((const CreateStmt *) stmt)->relation);
    case T_CreateTableAsStmt: return creates_temporary(((const CreateTableAsStmt *) stmt)->into->rel);
    case T_CreateSeqStmt: return creates_temporary(((const CreateSeqStmt *) stmt)->sequence);
    case T_ViewStmt: {
      const ViewStmt *v = (const ViewStmt *) stmt;
      return creates_temporary(v->view) || (v->replace && private_relation(v->view));
    }
    case T_AlterTableStmt: return private_relation(((const AlterTableStmt *) stmt)->relation);
    case T_IndexStmt: return private_relation(((const IndexStmt *) stmt)->relation);
    case T_AlterSeqStmt: return private_relation(((const AlterSeqStmt *) stmt)->sequence);
    case T_CreateTrigStmt: return private_relation(((const CreateTrigStmt *) stmt)->relation);
    case T_RuleStmt: return private_relation(((const RuleStmt *) stmt)->relation);
    case T_CreatePolicyStmt: return private_relation(((const CreatePolicyStmt *) stmt)->table);
    case T_AlterPolicyStmt: return private_relation(((const AlterPolicyStmt *) stmt)->table);
    case T_RenameStmt: return private_relation(((const RenameStmt *) stmt)->relation);
    case T_DropStmt: {
      const DropStmt *d = (const DropStmt *) stmt;
      if (!drops_relations(d->removeType) || d->objects == NIL) return false;
      ListCell *lc;
      foreach (lc, d->objects) {
        if (list_length((List *) lfirst(lc)) > 3) return false;  // (PostgreSQL says what is wrong)
        RangeVar *rv = makeRangeVarFromNameList((List *) lfirst(lc));
        if (!private_relation(rv)) return false;
      }
      return true;
    }
    default: return false;
  }
}

bool commits_internally(const Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_IndexStmt: return ((const IndexStmt *) stmt)->concurrent;
    case T_DropStmt: return ((const DropStmt *) stmt)->concurrent;
    case T_AlterTableStmt: {
      ListCell *lc;
      foreach (lc, ((const AlterTableStmt *) stmt)->cmds) {
        const AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
        if (cmd->subtype == AT_DetachPartition && ((PartitionCmd *) cmd->def)->concurrent)
          return true;
      }
      return false;
    }
    default: return false;
  }
}

}  // namespace zd::pg
