// The rule families, one file each.  Every function looks at one operation and returns a
// finding when its rule fires, or nothing when the operation is safe as written.
#pragma once

#include "core/rules/common.hpp"

namespace zd::rules {

// index_rules.cpp
RuleResult create_index(const RuleContext &ctx);
RuleResult drop_index(const RuleContext &ctx);
RuleResult reindex(const RuleContext &ctx);
RuleResult refresh_materialized_view(const RuleContext &ctx);

// constraint_rules.cpp
RuleResult add_check_or_foreign_key(const RuleContext &ctx);
RuleResult set_not_null(const RuleContext &ctx);
RuleResult add_unique_or_primary_key(const RuleContext &ctx);
RuleResult add_exclude(const RuleContext &ctx);
RuleResult alter_domain_check(const RuleContext &ctx);

// column_rules.cpp
RuleResult add_column(const RuleContext &ctx);
RuleResult alter_column_type(const RuleContext &ctx);
RuleResult set_expression(const RuleContext &ctx);

// breaking_rules.cpp: changes that break the code still running
// migration_rules.cpp
RuleResult migration_owned(const RuleContext &ctx);
// zero_downtime.orm_renames = migrate: this RENAME COLUMN, or rewriting ALTER COLUMN TYPE, of a
// live table is started as an expand/contract migration instead of being refused (the
// statement is its only change, no migration owns the column, no comment allows the rule).
bool becomes_migration(const RuleContext &ctx);

RuleResult drop_column(const RuleContext &ctx);
RuleResult rename_column(const RuleContext &ctx);
RuleResult rename_table(const RuleContext &ctx);
RuleResult drop_table(const RuleContext &ctx);

// table_rewrite_rules.cpp: statements that rewrite the whole table
RuleResult table_rewrite(const RuleContext &ctx);

// dml_rules.cpp: UPDATE / DELETE of many rows in a migration's transaction
RuleResult whole_table_dml(const RuleContext &ctx);

// held_lock_rules.cpp: a long scan in a transaction that already holds a blocking lock
RuleResult long_under_held_lock(const RuleContext &ctx);

// partition_rules.cpp
RuleResult attach_partition(const RuleContext &ctx);
RuleResult detach_partition(const RuleContext &ctx);

}  // namespace zd::rules
