// Every kind of utility statement PostgreSQL has (a node tag), and what the guard does with it:
// the one table (statement_kinds.cpp) the hook's fast path, gather and zd_statement_kinds()
// read.  A kind the table does not know (a newer server's statement) still gets the lock cap.
#pragma once

#include "pg/gather_internal.hpp"

namespace zd::pg {

enum class StatementHandling {
  Gathered,        // its operations are gathered: the rules judge them, the lock cap applies
  NoBlockingLock,  // it takes no lock that blocks the application on an existing relation
  RunsStatements,  // what it runs (a DO block's, a function's, a schema's elements) passes the
                   // hooks one statement at a time, judged there
  NotUtility,      // not a statement the ProcessUtility hook sees (DML, parts of statements)
};

// Whether a statement changes the schema: the schema drift policy judges it and the journal
// records it (schema_watch.hpp; the README's *Schema drift* says which and why).
enum class SchemaChange : uint8 {
  No,      // data, maintenance, session state, configuration, cluster administration
  Yes,     // creates, alters or drops an object of the database, its privileges, or a role
  Secret,  // Yes, and its string constants may hold a secret: the journal shows them as '***'
};

struct StatementKind {
  NodeTag tag;
  const char *tag_name;   // "IndexStmt"
  const char *statement;  // "CREATE INDEX"
  StatementHandling handling;
  // The locks it takes on existing relations, and the PostgreSQL function that takes them.
  const char *locks;
  // Gathered: adds its operations.
  void (*gather)(Gathering *g, Node *stmt);
  // Gathered: whether this statement is worth gathering (a plain CREATE TABLE locks nothing
  // existing); nullptr: always.  Cheap: it runs on the hook's fast path.
  bool (*worth_gathering)(const Node *stmt);
  // Whether it can run inside a subtransaction, as a retry needs (PreventInTransactionBlock
  // refuses VACUUM, CLUSTER and REINDEX of many tables); nullptr: it can.
  bool (*in_subtransaction)(const Node *stmt);
  SchemaChange schema;
};

// The entry for `tag`, or nullptr for a kind the table does not know.  Inline: the hook's fast
// path asks it for every utility statement.
constexpr int kStatementKindSlots = 1024;
extern const StatementKind *const *const statement_kind_slots;  // by tag, below the slots' end
const StatementKind *statement_kind_beyond_slots(NodeTag tag);
inline const StatementKind *statement_kind(NodeTag tag) {
  if ((unsigned) tag < (unsigned) kStatementKindSlots) return statement_kind_slots[tag];
  return statement_kind_beyond_slots(tag);
}

// True for the statement kinds some rule looks at (and kinds the table does not know: they get
// the lock cap).  Inline: the hook's fast path asks it for every utility statement.
inline bool guard_has_rules_for(const StatementKind *kind, const Node *stmt) {
  if (kind == nullptr) return true;
  return kind->gather != nullptr && (kind->worth_gathering == nullptr || kind->worth_gathering(stmt));
}

extern const StatementKind kStatementKinds[];
extern const size_t kStatementKindCount;

const char *handling_name(StatementHandling handling);
const char *schema_change_name(SchemaChange schema);

}  // namespace zd::pg
