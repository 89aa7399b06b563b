#include "core/rule_catalog.hpp"

#include <cstring>

#include "core/pg_free.hpp"

namespace zd {

const RuleInfo kRules[] = {
    {"create-index", "CREATE INDEX without CONCURRENTLY blocks writes for the whole build"},
    {"drop-index", "DROP INDEX without CONCURRENTLY blocks every query on the table"},
    {"reindex", "REINDEX without CONCURRENTLY blocks writes and reads using the index"},
    {"refresh-materialized-view", "REFRESH without CONCURRENTLY blocks every read of the view"},
    {"add-check", "ADD CHECK scans the table under ACCESS EXCLUSIVE"},
    {"add-foreign-key", "ADD FOREIGN KEY scans under SHARE ROW EXCLUSIVE on both tables"},
    {"set-not-null", "SET NOT NULL scans the table under ACCESS EXCLUSIVE"},
    {"add-unique", "ADD UNIQUE builds its index under ACCESS EXCLUSIVE"},
    {"add-primary-key", "ADD PRIMARY KEY builds its index under ACCESS EXCLUSIVE"},
    {"add-exclude", "ADD EXCLUDE builds its index under ACCESS EXCLUSIVE, with no online form"},
    {"alter-domain-check",
     "ALTER DOMAIN ADD CONSTRAINT / VALIDATE / SET NOT NULL checks every table using the domain "
     "under SHARE"},
    {"add-column-volatile-default",
     "ADD COLUMN with a volatile default, serial, identity or constrained domain rewrites"},
    {"add-column-generated-stored", "ADD COLUMN ... GENERATED ALWAYS AS ... STORED rewrites"},
    {"add-column-not-null", "ADD COLUMN NOT NULL without default fails on a non-empty table"},
    {"alter-column-type", "ALTER COLUMN TYPE that is not binary-coercible rewrites the table"},
    {"drop-column", "DROP COLUMN breaks the code still using it"},
    {"rename-column", "RENAME COLUMN breaks the code still using the old name"},
    {"rename-table", "RENAME of a table breaks the code still using the old name"},
    {"drop-table", "DROP TABLE breaks the code still using it, and loses its rows"},
    {"vacuum-full", "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE"},
    {"cluster", "CLUSTER rewrites the table under ACCESS EXCLUSIVE"},
    {"set-logged", "SET LOGGED rewrites the table under ACCESS EXCLUSIVE"},
    {"set-unlogged", "SET UNLOGGED rewrites the table under ACCESS EXCLUSIVE"},
    {"set-tablespace", "SET TABLESPACE copies the table under ACCESS EXCLUSIVE"},
    {"set-access-method", "SET ACCESS METHOD rewrites the table under ACCESS EXCLUSIVE"},
    {"attach-partition",
     "ATTACH PARTITION scans the partition under ACCESS EXCLUSIVE unless a CHECK implies it"},
    {"detach-partition", "DETACH PARTITION without CONCURRENTLY blocks every query on the table"},
    {"whole-table-dml",
     "UPDATE / DELETE of many rows in a transaction that changed the schema locks them until "
     "commit"},
    {"long-under-held-lock",
     "VALIDATE or REFRESH CONCURRENTLY scans under a blocking lock the transaction holds"},
};

const size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

const RuleInfo *find_rule(const char *name) {
  for (size_t i = 0; i < kRuleCount; i++)
    if (std::strcmp(kRules[i].name, name) == 0) return &kRules[i];
  return nullptr;
}

}  // namespace zd
