// The administrator's policy, from the zero_downtime.* settings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zd {

enum class Mode { Off, Warn, Enforce };

struct Policy {
  Mode mode = Mode::Enforce;
  int64_t small_table_bytes = 10 * 1024 * 1024;  // 0: no table counts as small
  std::vector<std::string> allowed_rules;        // zero_downtime.allow
  int lock_timeout_ms = 1000;                    // zero_downtime.lock_timeout
  // zero_downtime.orm_renames = migrate: a RENAME COLUMN or rewriting ALTER COLUMN TYPE on a
  // live table starts an expand/contract migration instead of being refused.
  bool orm_renames_migrate = false;

  bool allows(const std::string &rule) const;
};

}  // namespace zd
