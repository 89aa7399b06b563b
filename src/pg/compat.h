// What differs between the PostgreSQL major versions zero_downtime builds against, all in one
// place: the rest of src/pg says ZD_... or compat::... and has no PG_VERSION_NUM test of its
// own.  The exceptions are the two tables that ARE per-version facts: the statement kinds
// (statement_kinds.cpp) and the ALTER TABLE subcommands (end of gather_alter_table.cpp) carry
// their entries for tags a version added or removed under #if, in the table itself.
//
// Built and tested (test/run.sh, ZD_PG_VERSIONS): 15 (Debian 12's), 17 and 19 (Debian's
// packages in a chroot, test/versions/chroot.sh; 19 is 19~rc1) and 18 (built from source).
// 16 is covered by the same thresholds (each #if names the version that made the change) but
// has not been compiled.
//
// Macros, so that each expands where the file using it has included the header it needs;
// what needs headers of its own is a function in compat.cpp.
#pragma once

#if PG_VERSION_NUM < 150000
#error "zero_downtime needs PostgreSQL 15 or later"
#endif

// The server's version as the pure core learns it (StatementFacts::server_version_num).
#define ZD_SERVER_VERSION_NUM PG_VERSION_NUM

// 16: a GUC's memory (a string value, a check hook's "extra") is allocated and freed by the
// GUC machinery's own functions (palloc in its memory context); 15 frees it with free()
// (utils/guc.h).  NULL when out of memory, as malloc.
#if PG_VERSION_NUM >= 160000
#define ZD_GUC_MALLOC(bytes) guc_malloc(LOG, (bytes))
#define ZD_GUC_FREE(pointer) guc_free(pointer)
#else
#define ZD_GUC_MALLOC(bytes) malloc(bytes)
#define ZD_GUC_FREE(pointer) free(pointer)
#endif

// 16: stringToQualifiedNameList takes a soft-error context (utils/varlena.h, utils/regproc.h).
#if PG_VERSION_NUM >= 160000
#define ZD_QUALIFIED_NAME_LIST(string) stringToQualifiedNameList((string), nullptr)
#else
#define ZD_QUALIFIED_NAME_LIST(string) stringToQualifiedNameList(string)
#endif

// 16: pg_class_ownercheck became object_ownercheck of any catalog (utils/acl.h,
// catalog/pg_class.h).
#if PG_VERSION_NUM >= 160000
#define ZD_RELATION_OWNERCHECK(relid, role) object_ownercheck(RelationRelationId, (relid), (role))
#else
#define ZD_RELATION_OWNERCHECK(relid, role) pg_class_ownercheck((relid), (role))
#endif

// 16: pg_namespace_aclcheck became object_aclcheck of any catalog (utils/acl.h,
// catalog/pg_namespace.h).
#if PG_VERSION_NUM >= 160000
#define ZD_NAMESPACE_ACLCHECK(nspid, role, mode) \
  object_aclcheck(NamespaceRelationId, (nspid), (role), (mode))
#else
#define ZD_NAMESPACE_ACLCHECK(nspid, role, mode) pg_namespace_aclcheck((nspid), (role), (mode))
#endif
#if PG_VERSION_NUM >= 160000
#define ZD_PROC_ACLCHECK(proc, role, mode) \
  object_aclcheck(ProcedureRelationId, (proc), (role), (mode))
#else
#define ZD_PROC_ACLCHECK(proc, role, mode) pg_proc_aclcheck((proc), (role), (mode))
#endif

// 19: standard_conforming_strings is always on (only its check hook is left, refusing off);
// before, a session may turn it off (parser/parser.h).
#if PG_VERSION_NUM >= 190000
#define ZD_STANDARD_CONFORMING_STRINGS true
#else
#define ZD_STANDARD_CONFORMING_STRINGS standard_conforming_strings
#endif

// 19: a syscache invalidation callback gets the cache's id as an enum (utils/inval.h).
#if PG_VERSION_NUM >= 190000
#define ZD_SYSCACHE_ID SysCacheIdentifier
#else
#define ZD_SYSCACHE_ID int
#endif

// 17: the local transaction id moved into PGPROC's vxid (storage/proc.h).
#if PG_VERSION_NUM >= 170000
#define ZD_MY_LXID (MyProc->vxid.lxid)
#else
#define ZD_MY_LXID (MyProc->lxid)
#endif

// 17: a backend's number among the PGPROCs is MyProcNumber (storage/procnumber.h, which
// storage/proc.h includes); before, its PGPROC's pgprocno.
#if PG_VERSION_NUM >= 170000
#define ZD_MY_PROC_NUMBER ((int) MyProcNumber)
#else
#define ZD_MY_PROC_NUMBER (MyProc->pgprocno)
#endif

// 17: LockHeldByMe can also answer "this mode or a stronger one"; this is the exact mode,
// as 15's (storage/lock.h).
#if PG_VERSION_NUM >= 170000
#define ZD_LOCK_HELD_BY_ME(tag, mode) LockHeldByMe((tag), (mode), false)
#else
#define ZD_LOCK_HELD_BY_ME(tag, mode) LockHeldByMe((tag), (mode))
#endif

// 17: a backend's local status entry by its index in the snapshot (utils/backend_status.h),
// 1-based as before.
#if PG_VERSION_NUM >= 170000
#define ZD_LOCAL_BACKEND_ENTRY(index) pgstat_get_local_beentry_by_index(index)
#else
#define ZD_LOCAL_BACKEND_ENTRY(index) pgstat_fetch_stat_local_beentry(index)
#endif

// 18: a generated column is VIRTUAL (computed when read: adding one rewrites nothing) unless
// STORED is written (Constraint.generated_kind, catalog/pg_attribute.h); before 18 every
// generated column is stored.
#if PG_VERSION_NUM >= 180000
#define ZD_GENERATED_STORED(constraint) \
  ((constraint)->generated_kind == ATTRIBUTE_GENERATED_STORED)
#else
#define ZD_GENERATED_STORED(constraint) true
#endif

// 18: a column's NOT NULL is a constraint that can be added NOT VALID and validated later
// (ALTER TABLE ... ADD CONSTRAINT name NOT NULL col NOT VALID; VALIDATE CONSTRAINT name): once
// validated it is the column's NOT NULL.  Before 18 a CHECK (col IS NOT NULL) NOT VALID stands
// in for it until SET NOT NULL, which the validated CHECK proves without a scan.
#if PG_VERSION_NUM >= 180000
#define ZD_NOT_NULL_NOT_VALID true
#else
#define ZD_NOT_NULL_NOT_VALID false
#endif

// 18: PortalRun lost run_once (tcop/pquery.h).
#if PG_VERSION_NUM >= 180000
#define ZD_PORTAL_RUN(portal, count, top_level, dest, altdest, qc) \
  PortalRun((portal), (count), (top_level), (dest), (altdest), (qc))
#else
#define ZD_PORTAL_RUN(portal, count, top_level, dest, altdest, qc) \
  PortalRun((portal), (count), (top_level), true, (dest), (altdest), (qc))
#endif

// 18: an UPDATE's or DELETE's raw RETURNING is a ReturningClause (options such as
// WITH (OLD AS o), then the target list) instead of the target list (nodes/parsenodes.h).
// The number of its entries, options counted too: 0 means no RETURNING.
#if PG_VERSION_NUM >= 180000
#define ZD_RETURNING_LENGTH(stmt)                                          \
  ((stmt)->returningClause == nullptr                                      \
       ? 0                                                                 \
       : list_length((stmt)->returningClause->exprs) +                    \
             list_length((stmt)->returningClause->options))
#else
#define ZD_RETURNING_LENGTH(stmt) list_length((stmt)->returningList)
#endif

// 19: log_min_messages is an array (one level
// per backend type; this backend's is assumed at MyBackendType), table_beginscan takes flags,
// DomainHasConstraints says whether a constraint is volatile, a plan's result relations are a
// Bitmapset of range table indexes, and CLUSTER is a RepackStmt (REPACK's statement).
#if PG_VERSION_NUM >= 190000
#define ZD_LOG_MIN_MESSAGES (log_min_messages[MyBackendType])
#define ZD_TABLE_BEGINSCAN(rel, snapshot, nkeys, keys) \
  table_beginscan((rel), (snapshot), (nkeys), (keys), 0)
#define ZD_DOMAIN_HAS_CONSTRAINTS(type) DomainHasConstraints((type), nullptr)
#define ZD_HAS_RESULT_RELATION(planned) (!bms_is_empty((planned)->resultRelationRelids))
#define ZD_FIRST_RESULT_RELATION(planned) \
  ((Index) bms_next_member((planned)->resultRelationRelids, -1))
#define ZD_T_CLUSTER_STATEMENT T_RepackStmt
#define ZD_CLUSTER_RELATION(stmt) ((stmt)->relation ? (stmt)->relation->relation : nullptr)
#define ZD_JUMBLE_STATE const JumbleState
#else
#define ZD_LOG_MIN_MESSAGES log_min_messages
#define ZD_TABLE_BEGINSCAN(rel, snapshot, nkeys, keys) \
  table_beginscan((rel), (snapshot), (nkeys), (keys))
#define ZD_DOMAIN_HAS_CONSTRAINTS(type) DomainHasConstraints(type)
#define ZD_HAS_RESULT_RELATION(planned) ((planned)->resultRelations != NIL)
#define ZD_FIRST_RESULT_RELATION(planned) ((Index) linitial_int((planned)->resultRelations))
#define ZD_T_CLUSTER_STATEMENT T_ClusterStmt
#define ZD_CLUSTER_RELATION(stmt) ((stmt)->relation)
#define ZD_JUMBLE_STATE JumbleState
#endif

// 18: ExecutorRun lost its execute_once argument.
#if PG_VERSION_NUM >= 180000
#define ZD_EXECUTOR_RUN_PARAMS QueryDesc *query, ScanDirection direction, uint64 count
#define ZD_EXECUTOR_RUN_ARGS query, direction, count
#else
#define ZD_EXECUTOR_RUN_PARAMS \
  QueryDesc *query, ScanDirection direction, uint64 count, bool execute_once
#define ZD_EXECUTOR_RUN_ARGS query, direction, count, execute_once
#endif

// Forward declarations for compat.cpp's functions (PostgreSQL's own typedef names).
extern "C" {
typedef struct ClusterStmt ClusterStmt;
typedef struct RepackStmt RepackStmt;
typedef struct List List;
typedef struct Query Query;
typedef struct RangeTblEntry RangeTblEntry;
typedef struct RTEPermissionInfo RTEPermissionInfo;
typedef struct PlannedStmt PlannedStmt;
typedef struct Bitmapset Bitmapset;
}

namespace zd::pg::compat {

// CLUSTER's statement (19: RepackStmt, also REPACK's).
#if PG_VERSION_NUM >= 190000
using ClusterStatement = RepackStmt;
#else
using ClusterStatement = ClusterStmt;
#endif

// 16: the executor's privilege check reads RTEPermissionInfo entries (Query::rteperminfos)
// instead of the range table's entries: one per relation the query names, each with its
// relid, requiredPerms and selectedCols (the columns read).
#if PG_VERSION_NUM >= 160000
using RelPermissions = RTEPermissionInfo;
#else
using RelPermissions = RangeTblEntry;
#endif

// The query's permission entries, one per relation checked (15: its RTE_RELATION entries).
List *permission_entries(const Query *query);
// ExecCheckRTPerms / ExecCheckPermissions of the whole query.
bool check_query_permissions(const Query *query, bool ereport_on_violation);
// The check of one entry (a copy the caller changed), no error.
bool check_permission_entry(RelPermissions *entry);

// The relations a plan inserts into and the columns each INSERT names (attnums offset by
// FirstLowInvalidHeapAttributeNumber): 15's RangeTblEntry::insertedCols, 16's
// RTEPermissionInfo; 19's result relations are a Bitmapset.  fn(relid, columns, arg) for each.
void for_each_inserted_relation(const PlannedStmt *planned,
                                void (*fn)(Oid relid, const Bitmapset *columns, void *arg),
                                void *arg);

// Every table a plan reads or writes, with the columns it selects, inserts and updates (as
// the permission check sees them, attnums offset by FirstLowInvalidHeapAttributeNumber; 0
// offset so: the whole row): 15's RangeTblEntry, 16's RTEPermissionInfo.
void for_each_used_relation(const PlannedStmt *planned,
                            void (*fn)(Oid relid, const Bitmapset *selected,
                                       const Bitmapset *inserted, const Bitmapset *updated,
                                       void *arg),
                            void *arg);

// Whether the column has a NOT NULL that PostgreSQL has checked: 15's attnotnull; since 18,
// where NOT NULL is a constraint that may be NOT VALID (attnotnull is then true too), only
// when that constraint is validated.
bool column_not_null_validated(Oid relid, int16 attnum);

// Since 18: the name of the column's NOT NULL constraint when it is NOT VALID (what an
// interrupted SET NOT NULL's safe form left there), else nullptr.  Always nullptr on 15-17.
const char *column_not_null_not_valid(Oid relid, int16 attnum);

// CLUSTER's statement, as REPACK's since 19 (RepackStmt.command says which was written).
// Whether it is a REPACK (false before 19: there is none).
bool is_repack(const ClusterStatement *stmt);
// Whether it rebuilds the table without blocking reads and writes: REPACK (CONCURRENTLY), 19.
bool repack_concurrently(const ClusterStatement *stmt);
// Whether it orders the rows by an index (CLUSTER, REPACK ... USING INDEX), and the index's
// name when the statement gives one (nullptr: the table's clustered index).
bool cluster_uses_index(const ClusterStatement *stmt);
const char *cluster_index_name(const ClusterStatement *stmt);

// pg_stat_activity's name of a backend state (18 added "starting").
const char *backend_state_name(int state);

// 18: a column's NOT NULL is also a pg_constraint row of its own (contype 'n').
bool is_not_null_constraint(char contype);

// A type name as written (the caller's search_path) to its OID and typmod; an error when unknown.
// (16 replaced parseTypeString's missing_ok with a soft-error context.)
void parse_type_string(const char *text, Oid *type, int32 *typmod);

}  // namespace zd::pg::compat
