// Positions of tokens in a statement's text, found with PostgreSQL's own lexer (never by
// searching the text), so that a rewrite can splice CONCURRENTLY or NOT VALID at a token
// boundary, whatever comments, quoting or case the statement uses.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "nodes/pg_list.h"
}

namespace zd::pg {

struct SqlToken {
  int start;  // byte offsets into the text: [start, end)
  int end;
};

// Lexes `sql`; returns the number of tokens and sets *tokens (palloc'd).
int lex_tokens(const char *sql, SqlToken **tokens);

// Where the first token starts (after white space and comments); 0 if there is none.
int first_token_start(const char *sql);

// True when token `t` of `sql` is the (unquoted) keyword `keyword`, in any case.
bool token_is(const char *sql, const SqlToken &t, const char *keyword);

// The end of the first token that is `keyword`; -1 if there is none.
int offset_after_keyword(const char *sql, const char *keyword);

// The end of the last token (before any trailing comment or white space); -1 if none.
int offset_after_last_token(const char *sql);

// The end of the comma-separated list item that starts at byte `start` (an ALTER TABLE
// subcommand): the last token before the next comma outside parentheses, or the last token.
// -1 if no token starts there or after.
int offset_of_list_item_end(const char *sql, int start);

// ALTER TABLE [IF EXISTS] [ONLY] name [*] sub1, sub2, ...: one statement per subcommand,
// "ALTER TABLE [IF EXISTS] [ONLY] name [*] subN", in order (palloc'd strings); NIL when the
// text is not of that shape.
List *split_alter_table(const char *sql);

// A quoted identifier ("Odd ""Name""") as the name it stands for; an unquoted one as it is.
const char *unquoted_identifier(const char *name);

// REINDEX [ ( options ) ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM }: the end of the kind
// keyword, where CONCURRENTLY goes.
int offset_after_reindex_kind(const char *sql);

}  // namespace zd::pg
