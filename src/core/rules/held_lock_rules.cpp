// long-under-held-lock: a scan that is safe on its own (VALIDATE CONSTRAINT, REFRESH ...
// CONCURRENTLY: neither blocks reads or writes) becomes an outage when the same transaction
// already holds a lock that blocks the application, on that table or another one other
// sessions use: that lock stays until commit, so the application waits for the whole scan.
// The guard's own hint pasted into one migration file does exactly that (ADD CONSTRAINT ...
// NOT VALID; VALIDATE CONSTRAINT ...: one transaction, the first statement's ACCESS EXCLUSIVE
// held through the second's scan).
#include "core/rules/rules.hpp"

#include "core/pg_free.hpp"

namespace zd::rules {

RuleResult long_under_held_lock(const RuleContext &ctx) {
  const Operation &op = ctx.op;
  const HeldLock &held = ctx.stmt.held;
  const bool long_scan = op.kind == OpKind::ValidateConstraint ||
                         (op.kind == OpKind::RefreshMatView && op.concurrently);
  if (!long_scan || held.lock == Lock::None || exempt_from_lock_rules(op.table, ctx.policy))
    return std::nullopt;
  const std::string what = op.kind == OpKind::ValidateConstraint ? "VALIDATE CONSTRAINT"
                                                                  : "REFRESH ... CONCURRENTLY";
  return make_refusal(
      "long-under-held-lock",
      "long-under-held-lock: " + what + " on " + op.table.name + " would scan it while this "
          "transaction holds " + lock_with_article(held.lock) + " on " + held.table.str(),
      "This transaction took " + lock_with_article(held.lock) + " on " + held.table.str() +
          " with: " + held.statement.str() + "\nThat lock blocks " + lock_blocks(held.lock) +
          " until the transaction commits, so the application would wait for the whole scan of " +
          describe_table(op.table) + ".",
      "Commit the statement that took the lock first, then run this one in a transaction of its "
      "own.\n" + outside_transaction_hint(ctx, op.statement_sql.str() + ";"));
}

}  // namespace zd::rules
