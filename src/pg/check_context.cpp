#include "pg/check_context.hpp"

extern "C" {
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
}

namespace zd::pg {

const char *const kSentAsValues = "'statements', 'transaction' or 'query_string'";

bool parse_sent_as(const char *text, SentAs *out) {
  if (strcmp(text, "statements") == 0) *out = SentAs::Statements;
  else if (strcmp(text, "transaction") == 0) *out = SentAs::Transaction;
  else if (strcmp(text, "query_string") == 0) *out = SentAs::QueryString;
  else return false;
  return true;
}

ScriptTransaction script_transaction_start(SentAs sent_as, int n_statements) {
  // exec_simple_query: a query string of several statements is one implicit block (a COMMIT
  // in it ends the transaction, and the next statement starts another implicit one); a single
  // statement is in autocommit.
  const bool implicit = sent_as == SentAs::QueryString && n_statements > 1;
  return ScriptTransaction{sent_as, sent_as == SentAs::Transaction || implicit, implicit};
}

zd::TxContext script_tx_context(const ScriptTransaction *t) {
  return t->in_block || t->implicit ? zd::TxContext::TransactionBlock : zd::TxContext::Autocommit;
}

void script_transaction_control(ScriptTransaction *t, ScriptOverlay *overlay,
                                const TransactionStmt *stmt) {
  const bool open = t->in_block || t->implicit;
  switch (stmt->kind) {
    case TRANS_STMT_BEGIN:
    case TRANS_STMT_START:
      if (!open) overlay_begin(overlay);
      t->in_block = true;
      break;
    case TRANS_STMT_COMMIT:
    case TRANS_STMT_PREPARE:  // its locks belong to the prepared transaction, not the session
      if (open) overlay_commit(overlay);
      t->in_block = stmt->chain;
      break;
    case TRANS_STMT_ROLLBACK:
      if (open) overlay_rollback(overlay);
      t->in_block = stmt->chain;
      break;
    case TRANS_STMT_SAVEPOINT:
    case TRANS_STMT_RELEASE:
    case TRANS_STMT_ROLLBACK_TO:
      if (open) overlay_transaction_stmt(overlay, stmt);
      break;
    default: break;  // COMMIT / ROLLBACK PREPARED: another transaction
  }
}

namespace {

bool has_true_option(List *options, const char *name) {
  ListCell *lc;
  foreach (lc, options) {
    DefElem *opt = lfirst_node(DefElem, lc);
    if (strcmp(opt->defname, name) == 0) return defGetBoolean(opt);
  }
  return false;
}

}  // namespace

const char *refused_in_transaction_block(const Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_IndexStmt:
      return ((const IndexStmt *) stmt)->concurrent ? "CREATE INDEX CONCURRENTLY" : nullptr;
    case T_DropStmt:
      return ((const DropStmt *) stmt)->concurrent ? "DROP INDEX CONCURRENTLY" : nullptr;
    case T_ReindexStmt: {
      const ReindexStmt *r = (const ReindexStmt *) stmt;
      if (has_true_option(r->params, "concurrently")) return "REINDEX CONCURRENTLY";
      return r->kind == REINDEX_OBJECT_SCHEMA || r->kind == REINDEX_OBJECT_SYSTEM ||
                     r->kind == REINDEX_OBJECT_DATABASE
                 ? "REINDEX SCHEMA / SYSTEM / DATABASE"
                 : nullptr;
    }
    case T_VacuumStmt: return ((const VacuumStmt *) stmt)->is_vacuumcmd ? "VACUUM" : nullptr;
    case ZD_T_CLUSTER_STATEMENT:
      return ZD_CLUSTER_RELATION((const compat::ClusterStatement *) stmt) == nullptr
                 ? "CLUSTER without a table"
                 : nullptr;
    case T_AlterTableStmt: {
      ListCell *lc;
      foreach (lc, ((const AlterTableStmt *) stmt)->cmds) {
        const AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
        if (cmd->subtype == AT_DetachPartition && castNode(PartitionCmd, cmd->def)->concurrent)
          return "ALTER TABLE ... DETACH PARTITION CONCURRENTLY";
      }
      return nullptr;
    }
    case T_CreatedbStmt: return "CREATE DATABASE";
    case T_DropdbStmt: return "DROP DATABASE";
    case T_CreateTableSpaceStmt: return "CREATE TABLESPACE";
    case T_DropTableSpaceStmt: return "DROP TABLESPACE";
    case T_AlterSystemStmt: return "ALTER SYSTEM";
    default: return nullptr;
  }
}

}  // namespace zd::pg
