#include "pg/sql_tokens.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "parser/scanner.h"
#include "utils/guc.h"
// Exported by the server's flex scanner (scan.c) but not declared in scanner.h.
char *core_yyget_text(core_yyscan_t yyscanner);
int core_yyget_leng(core_yyscan_t yyscanner);
}

namespace zd::pg {

namespace {

// Lexes at most `limit` tokens (< 0: all).  The scanner warns of every identifier it truncates;
// PostgreSQL's parser has said so once already for this statement, so those NOTICEs are held
// back here.
int lex_quietly(const char *sql, SqlToken **tokens, int limit);

int lex(const char *sql, SqlToken **tokens, int limit) {
  const int saved_client = client_min_messages, saved_log = ZD_LOG_MIN_MESSAGES;
  client_min_messages = Max(client_min_messages, WARNING);
  ZD_LOG_MIN_MESSAGES = Max(ZD_LOG_MIN_MESSAGES, WARNING);
  int count = 0;
  PG_TRY();
  { count = lex_quietly(sql, tokens, limit); }
  PG_FINALLY();
  {
    client_min_messages = saved_client;
    ZD_LOG_MIN_MESSAGES = saved_log;
  }
  PG_END_TRY();
  return count;
}

int lex_quietly(const char *sql, SqlToken **tokens, int limit) {
  core_yy_extra_type extra;
  core_yyscan_t scanner = scanner_init(sql, &extra, &ScanKeywords, ScanKeywordTokens);
  int capacity = 16, count = 0;
  SqlToken *out = (SqlToken *) palloc(sizeof(SqlToken) * capacity);
  core_YYSTYPE value;
  YYLTYPE location;
  while ((limit < 0 || count < limit) && core_yylex(&value, &location, scanner) != 0) {
    if (count == capacity) {
      capacity *= 2;
      out = (SqlToken *) repalloc(out, sizeof(SqlToken) * capacity);
    }
    // The token ends where the scanner's last match ends (for a quoted string that is its
    // closing quote, matched in another scanner state than its start).
    int end = (int) (core_yyget_text(scanner) + core_yyget_leng(scanner) - extra.scanbuf);
    out[count++] = SqlToken{location, end};
  }
  scanner_finish(scanner);
  *tokens = out;
  return count;
}

}  // namespace

int lex_tokens(const char *sql, SqlToken **tokens) { return lex(sql, tokens, -1); }

// Skips what PostgreSQL's scanner skips before a token: white space, -- comments and nested
// /* */ comments.  By hand, not with the lexer: it runs for every guarded statement, and
// setting the scanner up costs more than the rest of a cheap statement's gathering.
int first_token_start(const char *sql) {
  const char *p = sql;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') p++;
    if (p[0] == '-' && p[1] == '-') {
      while (*p != '\0' && *p != '\n' && *p != '\r') p++;
    } else if (p[0] == '/' && p[1] == '*') {
      int depth = 0;
      do {
        if (p[0] == '/' && p[1] == '*') depth++, p += 2;
        else if (p[0] == '*' && p[1] == '/') depth--, p += 2;
        else p++;
      } while (depth > 0 && *p != '\0');
      if (depth > 0) return 0;  // unterminated: the scanner would have refused it
    } else {
      return (int) (p - sql);
    }
  }
}

bool token_is(const char *sql, const SqlToken &t, const char *keyword) {
  int len = t.end - t.start;
  return len == (int) strlen(keyword) && pg_strncasecmp(sql + t.start, keyword, len) == 0;
}

int offset_after_keyword(const char *sql, const char *keyword) {
  SqlToken *tokens;
  int n = lex_tokens(sql, &tokens);
  for (int i = 0; i < n; i++)
    if (token_is(sql, tokens[i], keyword)) return tokens[i].end;
  return -1;
}

int offset_after_last_token(const char *sql) {
  SqlToken *tokens;
  int n = lex_tokens(sql, &tokens);
  return n > 0 ? tokens[n - 1].end : -1;
}

int offset_of_list_item_end(const char *sql, int start) {
  SqlToken *tokens;
  int n = lex_tokens(sql, &tokens);
  int depth = 0, end = -1;
  for (int i = 0; i < n; i++) {
    if (tokens[i].start < start) continue;
    if (token_is(sql, tokens[i], "(")) depth++;
    if (token_is(sql, tokens[i], ")") && --depth < 0) break;
    if (depth == 0 && token_is(sql, tokens[i], ",")) break;
    end = tokens[i].end;
  }
  return end;
}

List *split_alter_table(const char *sql) {
  SqlToken *tokens;
  const int n = lex_tokens(sql, &tokens);
  int i = 0;
  auto next_is = [&](const char *word) { return i < n && token_is(sql, tokens[i], word); };
  if (!next_is("alter")) return NIL;
  i++;
  if (!next_is("table")) return NIL;
  i++;
  if (next_is("if")) i += 2;  // IF EXISTS
  if (next_is("only")) i++;
  i++;  // the name, schema-qualified or not
  while (next_is(".")) i += 2;
  if (next_is("*")) i++;
  if (i >= n) return NIL;
  const char *head = pnstrdup(sql, tokens[i - 1].end);
  List *statements = NIL;
  int start = tokens[i].start;
  for (;;) {
    const int end = offset_of_list_item_end(sql, start);
    if (end < 0) break;
    statements = lappend(statements, psprintf("%s %.*s", head, end - start, sql + start));
    while (i < n && tokens[i].start < end) i++;  // the comma after the item, if any
    if (i + 1 >= n || !token_is(sql, tokens[i], ",")) break;
    start = tokens[++i].start;
  }
  return statements;
}

int offset_after_reindex_kind(const char *sql) {
  SqlToken *tokens;
  int n = lex_tokens(sql, &tokens);
  int i = 1;  // tokens[0] is REINDEX
  if (i < n && token_is(sql, tokens[i], "(")) {
    int depth = 0;
    for (; i < n; i++) {
      if (token_is(sql, tokens[i], "(")) depth++;
      if (token_is(sql, tokens[i], ")") && --depth == 0) break;
    }
    i++;
  }
  return i < n ? tokens[i].end : -1;
}

const char *unquoted_identifier(const char *name) {
  if (name[0] != '"') return pstrdup(name);
  StringInfoData out;
  initStringInfo(&out);
  for (const char *p = name + 1; *p != '\0'; p++) {
    if (*p == '"' && p[1] == '"') p++;
    else if (*p == '"') break;
    appendStringInfoChar(&out, *p);
  }
  return out.data;
}

}  // namespace zd::pg
