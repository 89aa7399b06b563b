// Helpers every rule family shares: exemptions from live context, wording of errors, and the
// client-specific advice for running SQL outside a transaction block.
#pragma once

#include "core/decision.hpp"
#include "core/facts.hpp"
#include "core/policy.hpp"

#include <optional>
#include <string>

namespace zd::rules {

struct RuleContext {
  const StatementFacts &stmt;
  const Operation &op;
  const Policy &policy;
  // A rewrite may commit between steps: autocommit, and the statement does nothing else.
  bool can_rewrite() const;
};

using RuleResult = std::optional<Finding>;

// Lock and rewrite rules do not fire where no other session can be blocked for long: tables
// created in this transaction, temporary tables, and tables under zero_downtime.small_table_size.
bool exempt_from_lock_rules(const TableFacts &table, const Policy &policy);

// Rules about breaking running code (RENAME, DROP) do not fire on tables nobody else can see or
// that hold no data.
bool exempt_from_breaking_rules(const TableFacts &table);

// "1.2 GB", "640 kB"
std::string format_bytes(int64_t bytes);

// "public.orders (1.2 GB, ~8000000 rows)"
std::string describe_table(const TableFacts &table);

// "CREATE INDEX takes a SHARE lock on public.orders (1.2 GB, ...), which blocks every INSERT,
// UPDATE and DELETE (reads go on), <duration>."
std::string lock_detail(const Operation &op, Lock lock, const std::string &duration);

// "a SHARE lock", "an ACCESS EXCLUSIVE lock"
std::string lock_with_article(Lock lock);

// `text` for the inside of an SQL string literal (quotes doubled).
std::string quote_literal_text(const std::string &text);

// A quoted identifier ("Odd ""Name""", or name) as an SQL string literal of the name it stands
// for: 'Odd "Name"'.  For zd_* calls that take a name.
std::string name_literal(const std::string &quoted_identifier);

// The calls that do a rename or a type change by expand/contract (zd_expand_*, zd_migrate,
// zd_contract), for the hints of rename-column and alter-column-type.
std::string expand_contract_calls(const std::string &expand_call, const std::string &new_code);

// Inserts `text` at byte offset `at` of `sql`.
std::string insert_at(const std::string &sql, int at, const std::string &text);
// sql with bytes [from, to) replaced by text.
std::string replace_range(const std::string &sql, int from, int to, const std::string &text);

// `sql` with the comment that allows `rule` for it alone, and who may use it:
// "/* zero_downtime: allow drop-column */ ALTER TABLE t DROP COLUMN c;".  Pasted anywhere (a
// migration tool's transaction, a file of several statements), it ends no transaction and
// carries over to no other statement.
std::string allow_for_statement(const std::string &rule, const std::string &sql);
extern const char *const kWhoMayAllow;

// How to run `safe_sql` outside a transaction block, in plain SQL and in the migration tool
// running the statement (every common one when the server cannot tell which).
std::string outside_transaction_hint(const RuleContext &ctx, const std::string &safe_sql);

// For a primary message: "; run its safe form outside the transaction (Knex: ...)", or, no
// tool known, the first safe statement itself.
std::string run_outside_instruction(const RuleContext &ctx, const std::vector<Step> &steps);

// Why a rewrite could not be applied to this statement as sent.
std::string why_no_rewrite(const RuleContext &ctx);

Finding make_refusal(const std::string &rule, std::string message, std::string detail,
                     std::string hint);
Finding make_rewrite(const std::string &rule, std::string message, std::string detail,
                     std::vector<Step> steps);

// A rewritable operation: rewrite it when possible, else refuse with the steps as the hint.
// What of a safe form can run inside a transaction block and what must wait for its commit.
struct Deferral {
  size_t now_steps = 0;            // the first steps: brief, safe under the transaction's locks
  std::vector<std::string> later;  // run after the commit, each through the guard in autocommit
  // Run by the worker when a later statement fails for good: reverts what ran now, or what
  // the deferral built, when that would hurt the application left alone (a helper CHECK NOT
  // VALID blocks updates of the rows it does not hold for).  "" = nothing; several statements
  // are separated by ";\n" and run one after the other.
  std::string undo_on_failure;
  // What the application sees meanwhile, when that differs from the statement run now ("" =
  // nothing to say): told in the deferral's DETAIL.
  std::string consequence;
};

// The finding of a deferral: `steps` cut to the ones that run now, `deferral.later` after.
Finding make_deferral(const std::string &rule, const std::string &problem,
                      const std::string &detail, std::vector<Step> steps,
                      const Deferral &deferral);

// In a transaction block a deferral, when `deferral` is given and the statement may be
// deferred (StatementFacts::deferral_available, one change); else a refusal.
Finding rewrite_or_refuse(const RuleContext &ctx, const std::string &rule,
                          const std::string &problem, const std::string &detail,
                          std::vector<Step> steps, const Deferral *deferral = nullptr);

// Semicolon-terminated SQL of all steps, one per line.
std::string steps_sql(const std::vector<Step> &steps);

}  // namespace zd::rules
