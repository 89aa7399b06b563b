// The rule registry: every rule's stable name, what it is about, the operation kinds it looks
// at and the function that judges them.  decide() dispatches through it, zd_rules() lists it,
// the zero_downtime.allow check hook validates names against it, and the README's rule table
// is made of its texts (test/unit/rule_catalog_test.cpp keeps the two equal).
// Adding a rule: its function in src/core/rules/, one entry here, a row in the README.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/rules/common.hpp"

namespace zd {

using RuleCheck = rules::RuleResult (*)(const rules::RuleContext &);

constexpr uint64_t bit(OpKind kind) { return uint64_t{1} << (int) kind; }
constexpr uint64_t kAllKinds = ~uint64_t{0};
// A rule about whole statements (schema-drift), decided outside decide(): it looks at no
// operation and has no check function.
constexpr uint64_t kStatementLevel = 0;

struct RuleInfo {
  const char *name;
  const char *summary;  // one line, plain text
  // The operation kinds `check` is called for.  Rules that decide between related cases share
  // one function (add_column reports add-column-*, and an inline CHECK, UNIQUE or REFERENCES
  // as add-check, add-unique or add-foreign-key): it is called once per operation.
  uint64_t looks_at;
  RuleCheck check;
  // The README's rule table, in Markdown.
  const char *catches;
  const char *guard_does;
  const char *to_comply;
  // What differs between the PostgreSQL majors (15, 17, 18, 19), the README's last column;
  // nullptr when nothing does.
  const char *per_version = nullptr;
  bool looks_at_kind(OpKind kind) const { return (looks_at & bit(kind)) != 0; }
};

extern const RuleInfo kRules[];
extern const size_t kRuleCount;

// The rule named `name`, or nullptr.
const RuleInfo *find_rule(const char *name);

// What the rules do differently on one PostgreSQL major, one sentence each naming its rule:
// zd_status() lists those of the server it runs on.  Covers the majors [from, before).
struct VersionNote {
  int from;    // PG_VERSION_NUM, inclusive (0: any older)
  int before;  // PG_VERSION_NUM, exclusive (0: any newer)
  const char *note;
};
extern const VersionNote kVersionNotes[];
extern const size_t kVersionNoteCount;
inline bool version_note_applies(const VersionNote &n, int server_version_num) {
  return server_version_num >= n.from && (n.before == 0 || server_version_num < n.before);
}

// "CreateIndex", "AddColumn", ...: the names zd_rules() and zd_alter_table_subcommands() show.
const char *op_kind_name(OpKind kind);
constexpr int kOpKindCount = (int) OpKind::OtherLocking + 1;

}  // namespace zd
