#include "core/sql_normalize.hpp"

#include <cstring>

namespace zd {
namespace {

// Character classes, one table look-up each (the journal normalizes every DDL it records).
enum : unsigned char { kSpace = 1, kIdentStart = 2, kIdentChar = 4 };
struct Classes {
  unsigned char of[256] = {};
  constexpr Classes() {
    for (int c = 0; c < 256; c++) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') of[c] = kSpace;
      const bool start = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
      if (start) of[c] |= kIdentStart | kIdentChar;
      if ((c >= '0' && c <= '9') || c == '$') of[c] |= kIdentChar;
    }
  }
};
constexpr Classes kClasses;
bool is_space(char c) { return kClasses.of[(unsigned char) c] & kSpace; }
bool ident_start(char c) { return kClasses.of[(unsigned char) c] & kIdentStart; }
bool ident_char(char c) { return kClasses.of[(unsigned char) c] & kIdentChar; }

struct Writer {
  char *out;
  size_t len = 0;
  bool pending_space = false;
  void put(char c) {
    if (pending_space && len > 0) out[len++] = ' ';
    pending_space = false;
    out[len++] = c;
  }
  void put(const char *s, size_t n) {
    if (n == 0) return;
    if (pending_space && len > 0) out[len++] = ' ';
    pending_space = false;
    std::memcpy(out + len, s, n);
    len += n;
  }
};

// The end of the dollar-quote opening tag at in[i] ('$', tag, '$'), or 0 when none starts there.
size_t dollar_tag_end(const char *in, size_t n, size_t i) {
  size_t j = i + 1;
  if (j < n && in[j] == '$') return j + 1;
  if (j >= n || !ident_start(in[j])) return 0;
  while (j < n && ident_char(in[j]) && in[j] != '$') j++;
  return j < n && in[j] == '$' ? j + 1 : 0;
}

bool same(const char *a, const char *b, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (a[k] != b[k]) return false;
  return true;
}

}  // namespace

size_t normalize_statement(const char *in, size_t n, char *out, bool redact_strings,
                           bool standard_conforming_strings) noexcept {
  Writer w{out};
  size_t i = 0;
  while (i < n) {
    const char c = in[i];
    if (is_space(c)) {
      w.pending_space = true;
      i++;
    } else if (c == '-' && i + 1 < n && in[i + 1] == '-') {
      while (i < n && in[i] != '\n') i++;
      w.pending_space = true;
    } else if (c == '/' && i + 1 < n && in[i + 1] == '*') {
      int depth = 0;
      while (i < n) {
        if (in[i] == '/' && i + 1 < n && in[i + 1] == '*') depth++, i += 2;
        else if (in[i] == '*' && i + 1 < n && in[i + 1] == '/') {
          i += 2;
          if (--depth == 0) break;
        } else i++;
      }
      w.pending_space = true;
    } else if (c == '"') {  // a quoted identifier, "" inside
      size_t j = i + 1;
      while (j < n && !(in[j] == '"' && !(j + 1 < n && in[j + 1] == '"'))) j += in[j] == '"' ? 2 : 1;
      j = j < n ? j + 1 : n;
      w.put(in + i, j - i);
      i = j;
    } else if (c == '\'') {  // a string; E'...' when the previous character was E or e
      const bool backslashes = !standard_conforming_strings ||
                               (i > 0 && (in[i - 1] == 'E' || in[i - 1] == 'e') &&
                                (i < 2 || !ident_char(in[i - 2])));
      size_t j = i + 1;
      while (j < n) {
        if (backslashes && in[j] == '\\') j += 2;
        else if (in[j] == '\'' && j + 1 < n && in[j + 1] == '\'') j += 2;
        else if (in[j] == '\'') break;
        else j++;
      }
      j = j < n ? j + 1 : n;
      if (redact_strings) w.put("'***'", 5);
      else w.put(in + i, j - i);
      i = j;
    } else if (c == '$' && !(i > 0 && ident_char(in[i - 1])) && dollar_tag_end(in, n, i) != 0) {
      const size_t tag_end = dollar_tag_end(in, n, i), tag_len = tag_end - i;
      size_t j = tag_end;
      while (j < n && !(in[j] == '$' && j + tag_len <= n && same(in + j, in + i, tag_len))) j++;
      j = j < n ? j + tag_len : n;
      if (redact_strings) w.put("'***'", 5);
      else w.put(in + i, j - i);
      i = j;
    } else if (ident_start(c)) {  // a word: copied whole (its $ and quotes are its own)
      size_t j = i;
      while (j < n && ident_char(in[j])) j++;
      w.put(in + i, j - i);
      i = j;
    } else {  // other characters: up to the next one that starts something
      size_t j = i + 1;
      while (j < n && !is_space(in[j]) && !ident_start(in[j]) && in[j] != '\'' && in[j] != '"' &&
             in[j] != '$' && in[j] != '-' && in[j] != '/')
        j++;
      w.put(in + i, j - i);
      i = j;
    }
  }
  out[w.len] = '\0';
  return w.len;
}

}  // namespace zd
