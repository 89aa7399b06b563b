// What a schema-changing statement acts on, from its parse tree: the object it names (for the
// journal and the drift report), whether it acts only on objects nobody else sees (temporary,
// or created by this transaction: the drift policy leaves those alone), and whether it commits
// on its own part way (CONCURRENTLY).
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "nodes/parsenodes.h"
}

namespace zd::pg {

// The object as the statement names it ("public.orders", "orders", "f(int)", a role's name),
// or nullptr for a kind that names none this knows.  No catalog access: cheap.
const char *statement_object(const Node *stmt);

// Every object the statement changes is temporary or was created by this transaction.  Knows
// the statements on relations (CREATE TEMP ..., ALTER / DROP / CREATE INDEX / TRIGGER / RULE /
// POLICY on a temporary or new relation); any other statement counts as changing the schema.
bool only_private_objects(const Node *stmt);

// The statement commits transactions of its own before it ends (CREATE / DROP INDEX
// CONCURRENTLY, DETACH PARTITION CONCURRENTLY).
bool commits_internally(const Node *stmt);

}  // namespace zd::pg
