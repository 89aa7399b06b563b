// The journal's statement text: comments and white space normalized, string constants of
// statements that may carry a secret redacted, whatever the quoting.
#include <gtest/gtest.h>

#include <string>

#include "core/sql_normalize.hpp"

namespace zd {
namespace {

std::string norm(const std::string &sql, bool redact = false, bool scs = true) {
  std::string out(normalized_capacity(sql.size()), '\0');
  out.resize(normalize_statement(sql.data(), sql.size(), out.data(), redact, scs));
  return out;
}

TEST(SqlNormalize, WhiteSpaceAndComments) {
  EXPECT_EQ(norm("  ALTER  TABLE\n\tt -- why\n ADD COLUMN /* a /* nested */ one */ c int  "),
            "ALTER TABLE t ADD COLUMN c int");
  EXPECT_EQ(norm("SELECT 'a  --  b', \"x  /* y */\""), "SELECT 'a  --  b', \"x  /* y */\"");
  EXPECT_EQ(norm("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1  -- c\n $$ LANGUAGE sql"),
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1  -- c\n $$ LANGUAGE sql");
}

TEST(SqlNormalize, RedactsEveryStringConstant) {
  EXPECT_EQ(norm("CREATE ROLE r PASSWORD 'se''cret'", true), "CREATE ROLE r PASSWORD '***'");
  EXPECT_EQ(norm("ALTER ROLE r PASSWORD E'a\\'b' VALID UNTIL 'infinity'", true),
            "ALTER ROLE r PASSWORD E'***' VALID UNTIL '***'");
  EXPECT_EQ(norm("CREATE USER MAPPING FOR u SERVER s OPTIONS (password $p$x'y$p$)", true),
            "CREATE USER MAPPING FOR u SERVER s OPTIONS (password '***')");
  EXPECT_EQ(norm("ALTER ROLE \"we'ird\" PASSWORD 'p' -- 'q'", true),
            "ALTER ROLE \"we'ird\" PASSWORD '***'");
  // standard_conforming_strings off: a backslash escapes the quote; the secret stays hidden.
  EXPECT_EQ(norm("ALTER ROLE r PASSWORD 'a\\' secret'", true, false), "ALTER ROLE r PASSWORD '***'");
  // On: the backslash is a character, the string ends at the quote after it.
  EXPECT_EQ(norm("ALTER ROLE r PASSWORD 'a\\' 'b'", true, true),
            "ALTER ROLE r PASSWORD '***' '***'");
  // Unterminated (a truncated text): redacted to its end.
  EXPECT_EQ(norm("ALTER ROLE r PASSWORD 'secr", true), "ALTER ROLE r PASSWORD '***'");
}

TEST(SqlNormalize, DollarSignsThatAreNotQuotes) {
  EXPECT_EQ(norm("PREPARE p AS SELECT $1, a$b$c FROM t", true), "PREPARE p AS SELECT $1, a$b$c FROM t");
}

TEST(SqlNormalize, NeverLongerThanItsCapacity) {
  const std::string worst(100, '\'');  // 50 empty strings
  std::string out(normalized_capacity(worst.size()), '\0');
  EXPECT_LE(normalize_statement(worst.data(), worst.size(), out.data(), true, true) + 1,
            normalized_capacity(worst.size()));
}

}  // namespace
}  // namespace zd
