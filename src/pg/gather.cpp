// Gathering a statement: its kind's gather function (statement_kinds.cpp), and what all of
// them share.
#include "pg/gather_internal.hpp"

#include "pg/deferral.hpp"
#include "pg/expand/expand.hpp"
#include "pg/held_locks.hpp"
#include "pg/migration_tool.hpp"
#include "pg/sql_tokens.hpp"
#include "pg/statement_allow.hpp"
#include "pg/statement_kinds.hpp"
#include "pg/table_facts.hpp"
#include "pg/trusted_code.hpp"

#include <new>

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
}

namespace zd::pg {

static_assert(AccessShareLock == 1 && AccessExclusiveLock == 8 &&
                  (int) zd::Lock::AccessShare == 1 && (int) zd::Lock::AccessExclusive == 8,
              "zd::Lock follows PostgreSQL's lock mode numbers");

zd::Lock lock_from_lockmode(LOCKMODE mode) {
  return (mode >= AccessShareLock && mode <= AccessExclusiveLock) ? (zd::Lock) mode
                                                                  : zd::Lock::None;
}

Oid lookup_relation(const RangeVar *rv) {
  return rv != nullptr ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
}

int statement_offset(const Gathering *g, int parse_location) {
  return parse_location >= 0 ? parse_location - g->location : -1;
}

// How many operations Gathering::first_ops holds.
constexpr int kFirstOps = 4;

zd::Operation *add_operation(Gathering *g, zd::OpKind kind, Oid relid, LOCKMODE lock,
                             const char *command, bool check_empty) {
  if (g->first_ops == nullptr)
    g->first_ops = (zd::Operation *) palloc(sizeof(zd::Operation) * kFirstOps);
  zd::Operation *op = new (g->n_first_ops < kFirstOps ? &g->first_ops[g->n_first_ops++]
                                                       : palloc(sizeof(zd::Operation)))
      zd::Operation();
  op->kind = kind;
  op->lock = lock_from_lockmode(lock);
  op->command = command;
  op->statement_sql = g->sql;
  fill_table_facts(relid, &op->table);
  g->ops = lappend(g->ops,
                   new (palloc(sizeof(GatheredOp))) GatheredOp{op, relid, check_empty, g->recurses});
  return op;
}

zd::TxContext current_tx_context(ProcessUtilityContext context) {
  if (context != PROCESS_UTILITY_TOPLEVEL) return zd::TxContext::Nested;
  // As PreventInTransactionBlock decides: a later statement of a libpq pipeline (extended
  // protocol, no Sync yet) shares an implicit transaction with the earlier ones, so a rewrite's
  // commits would make their effects permanent before the pipeline ends.
  if (IsTransactionBlock() || IsSubTransaction() || (MyXactFlags & XACT_FLAGS_PIPELINING))
    return zd::TxContext::TransactionBlock;
  return zd::TxContext::Autocommit;
}

zd::StatementFacts *new_statement_facts() {
  zd::StatementFacts *facts = new (palloc(sizeof(zd::StatementFacts))) zd::StatementFacts();
  facts->server_version_num = ZD_SERVER_VERSION_NUM;
  return facts;
}

zd::StatementFacts *gather_statement(Node *statement, const char *query_string, int location,
                                     int length, zd::TxContext tx) {
  Gathering g;
  forget_class_rows();
  if (location < 0) location = 0;
  const char *text = length > 0 ? pnstrdup(query_string + location, length)
                                : pstrdup(query_string + location);
  // The statement starts at its first token: leading white space and comments are dropped, so
  // that the SQL quoted back in hints and rewrites is the statement itself.
  const int skip = first_token_start(text);
  g.location = location + skip;
  g.sql = text + skip;
  g.ops = NIL;

  const StatementKind *kind = statement_kind(nodeTag(statement));
  if (kind == nullptr || kind->gather == nullptr) return nullptr;
  // Comments before the statement may allow rules for it alone (statement_allow.hpp): those
  // after the previous statement's semicolon (or the start of the text).  PostgreSQL 15's
  // statement location starts right after that semicolon; 18's at the statement's first token
  // (its parser drops leading comments).  The text in between is only white space and comments,
  // so the nearest semicolon before the statement is that one, or one inside a comment there,
  // after which the rest of the comment is still read.
  int leading_from = location;
  while (leading_from > 0 && query_string[leading_from - 1] != ';') leading_from--;
  const int leading_length = location + skip - leading_from;
  const Span<const zd::Text> allowed_here =
      leading_length > 0 ? statement_allows(query_string + leading_from, leading_length)
                         : Span<const zd::Text>{};
  kind->gather(&g, statement);
  if (g.ops == NIL) return nullptr;

  // The operations in the order they were added: first_ops, then (rarely) more, copied after.
  const int n = list_length(g.ops);
  zd::Operation *ops = g.first_ops;
  if (n > kFirstOps) {
    ops = (zd::Operation *) palloc(sizeof(zd::Operation) * n);
    for (int i = 0; i < n; i++) ops[i] = *((const GatheredOp *) list_nth(g.ops, i))->op;
  }
  for (int i = 0; i < n; i++) {
    const GatheredOp *gathered = (const GatheredOp *) list_nth(g.ops, i);
    // On a relation the caller does not own, no rule applies, only the lock cap: PostgreSQL
    // refuses what needs ownership before it looks at the relation, and so does gather (no
    // size, no read of its rows); what other privileges allow (LOCK, TRUNCATE, CREATE
    // TRIGGER) is capped.
    // (A table reached through another object the statement names, a schema dropped with
    // CASCADE or a domain validated, PostgreSQL acts on for the caller: it is judged.)
    if (OidIsValid(gathered->relid) && ops[i].table.exists &&
        !ops[i].through_other_object && !caller_owns_gathered_relation(gathered->relid)) {
      ops[i].kind = zd::OpKind::OtherLocking;
      continue;  // (nor is it new: what the caller creates, the caller owns)
    }
    // The lock cap alone (OtherLocking) needs no size: that is the common case of a harmless
    // ALTER TABLE, and reading a size is most of the guard's cost on it.
    fill_table_state(gathered->relid, ops[i].kind != zd::OpKind::OtherLocking,
                     gathered->check_empty, gathered->recurses, &ops[i].table);
    expand::fill_migration_facts(gathered->relid, &ops[i]);
  }
  zd::StatementFacts *facts = new_statement_facts();
  facts->tx = tx;
  // (In autocommit no tool's transaction is there to tell, nor to work around.)
  if (tx != zd::TxContext::Autocommit) facts->tool = detect_migration_tool();
  facts->deferral_available = tx == zd::TxContext::TransactionBlock && deferral_available(tx);
  facts->sql = g.sql;
  facts->allowed_here = allowed_here;
  if (list_length(g.split_statements) > 1) {
    const int count = list_length(g.split_statements);
    zd::Text *split = (zd::Text *) palloc0(sizeof(zd::Text) * count);
    for (int i = 0; i < count; i++) split[i] = (const char *) list_nth(g.split_statements, i);
    facts->split_statements = {split, (size_t) count};
  }
  if (tx != zd::TxContext::Autocommit) facts->held = strongest_held_lock();
  facts->ops = {ops, (size_t) n};
  return facts;
}

}  // namespace zd::pg
