#include "core/decide.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/rule_catalog.hpp"
#include "core/rules/rules.hpp"
#include "core/pg_free.hpp"

namespace zd {
namespace {

// For each kind of operation, the check functions of the registry's rules that look at it, in
// the registry's order, each once (rules that share a function share one call).  Made once from
// the registry: decide() runs for every guarded statement.
struct ChecksByKind {
  static constexpr size_t kMax = 64;
  RuleCheck checks[kOpKindCount][kMax];
  size_t count[kOpKindCount] = {};
};

ChecksByKind make_checks_by_kind() {
  ChecksByKind table;
  for (int kind = 0; kind < kOpKindCount; kind++) {
    RuleCheck *checks = table.checks[kind];
    size_t &n = table.count[kind];
    for (size_t i = 0; i < kRuleCount; i++) {
      const RuleInfo &rule = kRules[i];
      if (!rule.looks_at_kind((OpKind) kind) ||
          std::find(checks, checks + n, rule.check) != checks + n)
        continue;
      if (n == ChecksByKind::kMax)
        throw std::logic_error("more rule functions than ChecksByKind holds");
      checks[n++] = rule.check;
    }
  }
  return table;
}

// The operation's first finding, trying the registry's rules in order (rule_catalog.cpp).
rules::RuleResult check_operation(const rules::RuleContext &ctx) {
  static const ChecksByKind by_kind = make_checks_by_kind();
  const int kind = (int) ctx.op.kind;
  for (size_t i = 0; i < by_kind.count[kind]; i++)
    if (rules::RuleResult finding = by_kind.checks[kind][i](ctx)) return finding;
  return std::nullopt;
}

// A comment before the statement allows the rule for it alone.
bool allowed_here(const StatementFacts &facts, const std::string &rule) {
  for (const Text &allowed : facts.allowed_here)
    if (allowed == rule.c_str()) return true;
  return false;
}

// An ALTER TABLE of several changes is refused, not rewritten.  Its refusal names every rule
// that fires; unless one safe form keeps every change (one ADD CHECK or ADD FOREIGN KEY, made
// NOT VALID in place; one ADD UNIQUE or PRIMARY KEY, USING an index built first), its hint is the statement split into one per change, in order: each run
// on its own gets its own safe form (a composed one went wrong: an index on a column a later
// change adds, the NOT NULL of a column with a volatile default dropped, one of two foreign
// keys left validating under the lock).
void explain_several_changes(Decision &d, const StatementFacts &facts) {
  if (facts.split_statements.size() < 2) return;
  Finding &f = d.findings.front();
  std::string rules;
  for (const Finding &each : d.findings) {
    if (rules.find(each.rule) != std::string::npos) continue;
    rules += (rules.empty() ? "" : ", ") + each.rule;
  }
  f.detail += " The statement makes " + std::to_string(facts.split_statements.size()) +
              " changes; rules that fire on them: " + rules + ".";
  // (A unique index built first must not need a column the statement itself adds.)
  const bool adds_column = std::any_of(facts.ops.begin(), facts.ops.end(), [](const Operation &op) {
    return op.kind == OpKind::AddColumn;
  });
  const bool kept_in_place =
      d.findings.size() == 1 &&
      (f.rule == "add-check" || f.rule == "add-foreign-key" ||
       ((f.rule == "add-unique" || f.rule == "add-primary-key") && !adds_column));
  if (kept_in_place) return;
  std::string split;
  for (const Text &statement : facts.split_statements) split += "\n" + statement.str() + ";";
  f.hint = "Run its changes as separate statements, in this order, each on its own (then each "
           "gets its own safe form, or its own explanation):" + split;
}

// An ALTER TABLE of several changes in a migration's transaction, deferral on: whether each
// change, judged as the statement of its own it is split into, would run or be deferred (at
// least one deferred), and none refused.
bool each_change_runs_or_defers(const StatementFacts &facts, const Policy &policy) {
  if (!facts.deferral_available || facts.tx != TxContext::TransactionBlock ||
      facts.split_statements.size() < 2)
    return false;
  bool deferred = false;
  for (const Operation &op : facts.ops) {
    StatementFacts alone = facts;
    alone.ops = {&op, 1};
    alone.split_statements = {};
    rules::RuleResult finding = check_operation(rules::RuleContext{alone, op, policy});
    if (!finding || policy.allows(finding->rule) || allowed_here(facts, finding->rule)) continue;
    if (finding->verdict != Verdict::Defer) return false;
    deferred = true;
  }
  return deferred;
}

Finding each_change_on_its_own(const StatementFacts &facts, const Decision &refused) {
  Finding f;
  f.verdict = Verdict::DeferEach;
  f.rule = refused.findings.front().rule;
  const std::string table = facts.ops.size() > 0 ? facts.ops[0].table.name.str() : "the table";
  f.message = "ALTER TABLE " + table + " makes " + std::to_string(facts.split_statements.size()) +
              " changes; each runs as a statement of its own, so that each gets its safe form "
              "(deferred where it must wait for this transaction's commit)";
  f.detail = "It runs as:";
  for (const Text &statement : facts.split_statements) f.detail += "\n" + statement.str() + ";";
  f.hint = "SELECT * FROM zd_deferred_status shows what was deferred; CALL zd_deferred_wait(); "
           "waits for it.";
  return f;
}

// The lock cap protects the application from the lock queue: it applies to every lock that
// blocks the application, on a table other sessions can see.
bool needs_lock_cap(const Operation &op) {
  return blocks_application(op.lock) && op.table.exists && !op.table.created_in_transaction &&
         !op.table.temporary;
}

}  // namespace

bool Policy::allows(const std::string &rule) const {
  return std::find(allowed_rules.begin(), allowed_rules.end(), rule) != allowed_rules.end();
}

Decision decide(const StatementFacts &facts, const Policy &policy) {
  Decision d;
  if (policy.mode == Mode::Off) return d;
  for (const Operation &op : facts.ops) {
    if (needs_lock_cap(op) && op.lock > d.cap_lock) {
      d.cap_lock = op.lock;
      d.capped_table = op.table.name;
    }
    rules::RuleResult finding;
    try {
      finding = check_operation(rules::RuleContext{facts, op, policy});
    } catch (const std::exception &) {
      // warn mode changes nothing, whatever happens in a rule; enforce reports the bug.
      if (policy.mode == Mode::Warn) continue;
      throw;
    }
    if (finding && !policy.allows(finding->rule) && !allowed_here(facts, finding->rule)) {
      finding->lock = op.lock;
      d.findings.push_back(std::move(*finding));
    }
  }
  if (d.findings.empty()) {
    for (const Operation &op : facts.ops)
      if (rules::becomes_migration(rules::RuleContext{facts, op, policy}))
        d.start_migration = true;
    return d;
  }

  if (policy.mode == Mode::Warn) {
    d.verdict = Verdict::Warn;
    return d;
  }
  // A statement is refused when any of its operations is; a rewrite only ever has one.
  auto refused = std::find_if(d.findings.begin(), d.findings.end(),
                              [](const Finding &f) { return f.verdict == Verdict::Refuse; });
  if (refused != d.findings.end()) {
    if (each_change_runs_or_defers(facts, policy)) {
      d.findings = {each_change_on_its_own(facts, d)};
      d.verdict = Verdict::DeferEach;
      return d;
    }
    std::rotate(d.findings.begin(), refused, refused + 1);  // the refusal is reported first
    d.verdict = Verdict::Refuse;
    explain_several_changes(d, facts);
    return d;
  }
  d.verdict = d.findings.front().verdict;  // Rewrite, or Defer: one operation either way
  d.steps = d.findings.front().steps;
  d.deferred_sql = d.findings.front().deferred_sql;
  d.deferred_undo = d.findings.front().deferred_undo;
  return d;
}

FailureReport describe_failed_rewrite(const std::string &rule, const std::vector<Step> &steps,
                                      size_t failed, bool left) {
  FailureReport r;
  Step bad = steps.at(failed);
  if (!left && (!bad.leftover_index.empty() || bad.leftover_ccnew)) {
    bad.leaves_on_failure.clear();
    bad.retry_needs_cleanup = false;
  }
  r.detail = "zero_downtime (" + rule + ") ran this statement as " +
             (steps.size() > 1 ? std::to_string(steps.size()) + " steps, each in its own transaction"
                               : std::string("1 step")) +
             "; step " + std::to_string(failed + 1) + " failed: " + bad.sql + ".";
  std::string committed;
  for (size_t i = 0; i < failed; ++i)
    if (!steps[i].effect.empty()) committed += (committed.empty() ? "" : "; ") + steps[i].effect;
  if (!committed.empty()) r.detail += " Committed before it: " + committed + ".";
  r.detail += bad.leaves_on_failure.empty()
                  ? " The failed step left nothing behind."
                  : " The failed step left behind " + bad.leaves_on_failure + ".";

  r.hint = "To finish, fix the cause, then run outside a transaction block:";
  if (bad.retry_needs_cleanup) r.hint += "\n" + bad.cleanup_sql + ";";
  for (size_t i = failed; i < steps.size(); ++i) r.hint += "\n" + steps[i].sql + ";";

  std::vector<std::string> undo;
  if (!bad.leaves_on_failure.empty() && !bad.cleanup_sql.empty()) undo.push_back(bad.cleanup_sql);
  for (size_t i = failed; i-- > 0;)
    if (!steps[i].undo_sql.empty() &&
        std::find(undo.begin(), undo.end(), steps[i].undo_sql) == undo.end())
      undo.push_back(steps[i].undo_sql);
  if (!undo.empty()) {
    r.hint += "\nTo undo instead:";
    for (const std::string &u : undo) r.hint += "\n" + u + ";";
  }
  return r;
}

}  // namespace zd
