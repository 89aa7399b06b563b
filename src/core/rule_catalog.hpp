// Every rule's stable name and what it is about, as plain data: the zero_downtime.allow check
// hook validates names against it, and the README documents each entry.
#pragma once

#include <cstddef>

namespace zd {

struct RuleInfo {
  const char *name;
  const char *summary;
};

extern const RuleInfo kRules[];
extern const size_t kRuleCount;

// The rule named `name`, or nullptr.
const RuleInfo *find_rule(const char *name);

}  // namespace zd
