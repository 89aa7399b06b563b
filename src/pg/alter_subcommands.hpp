// Every ALTER TABLE subcommand PostgreSQL has, and how the guard gathers it: the one table
// (end of gather_alter_table.cpp) gather_alter_table dispatches through and
// zd_alter_table_subcommands() lists; test/t/011_statement_kinds.pl checks that it covers
// every AlterTableType of the server's headers.
#pragma once

#include "pg/gather_internal.hpp"

namespace zd::pg {

struct AlterSubcommand {
  AlterTableType subtype;
  const char *subtype_name;  // "AT_AddColumn"
  // How it is written; nullptr for those only PostgreSQL's own transformation of a statement
  // makes (transformAlterTableStmt, ATPrepCmd): never in a statement as parsed, so never seen
  // by the hook (it gathers the statement as written).
  const char *spelling;
  zd::OpKind kind;       // the operation it is judged as; OtherLocking: the lock cap only
  const char *command;   // the operation's command, as messages name it
  // Adds its operations (with the facts its rules need); nullptr: one operation of `kind`.
  void (*gather)(Gathering *g, Oid relid, LOCKMODE lock, AlterTableCmd *cmd,
                 const AlterSubcommand &sub);
};

const AlterSubcommand *alter_subcommand(AlterTableType subtype);

extern const AlterSubcommand kAlterSubcommands[];
extern const size_t kAlterSubcommandCount;

}  // namespace zd::pg
