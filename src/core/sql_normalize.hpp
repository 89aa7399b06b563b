// The statement text the journal keeps: comments dropped, each run of white space one space,
// and, for statements that may carry a secret (a role's PASSWORD, a user mapping's or server's
// OPTIONS, a subscription's CONNECTION), every string constant replaced by '***'.  One pass
// over the text that knows PostgreSQL's quoting (quoted identifiers, '' and E'' strings with
// standard_conforming_strings, dollar quotes, nested /* */ comments); no allocation.
#pragma once

#include <cstddef>

namespace zd {

// Writes the normalized text of in[0..n) to out (room for normalized_capacity(n) bytes, NUL
// included) and returns its length.
size_t normalize_statement(const char *in, size_t n, char *out, bool redact_strings,
                           bool standard_conforming_strings) noexcept;

// '' (2 bytes) may become '***' (5): the output is at most 2.5 times the input.
constexpr size_t normalized_capacity(size_t n) { return n * 3 + 8; }

}  // namespace zd
