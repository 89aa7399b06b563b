// Live facts about a relation: size, visibility, persistence.  Never waits for a lock: a
// relation locked by someone else is described from pg_class estimates instead.
#pragma once

#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

// Starts gathering a statement: what the last one read of pg_class is read again.
void forget_class_rows();

// Fills *t for relation `relid` (InvalidOid: the table does not exist) with what its pg_class
// row says: existence, name, persistence, partitioning.
void fill_table_facts(Oid relid, zd::TableFacts *t);

// Adds what takes a look at the relation itself: whether this transaction created it and,
// with `size` (a file open and lseek per relation, so only for operations a rule sizes up),
// its size; `check_empty` also checks whether it holds any row (a scan of at most a few pages).
// with_inheritors: the statement recurses into inheritance children, whose rows then count.
void fill_table_state(Oid relid, bool size, bool check_empty, bool with_inheritors,
                      zd::TableFacts *t);

// "schema.name", quoted for SQL; "" when the relation does not exist.
const char *qualified_relation_name(Oid relid);

// Temporary, or created (or given new storage) by this transaction: nobody else sees it yet.
bool relation_is_private(Oid relid);

// A plain or partitioned table: what the table rules are about (not views, indexes, ...).
bool is_table(Oid relid);

// pg_class.relhassubclass, as has_subclass() reads it (inheritance children or partitions,
// perhaps since removed), from the row gathering read.
bool relation_has_subclass(Oid relid);

// Whether the current user owns relid (or is a superuser or a member of its owner), as
// PostgreSQL's ownership check decides, from the pg_class row gathering read (while it
// gathers a statement, and until it runs: no second catalog lookup).
bool caller_owns_gathered_relation(Oid relid);

}  // namespace zd::pg
