#include "pg/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
}

namespace zd::pg {
namespace {

// Runs run(arg) in a subtransaction with `run_context` as its current memory context.
ErrorData *run_in_subtransaction_in(MemoryContext run_context, void (*run)(void *), void *arg) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  ErrorData *volatile error = nullptr;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(run_context);
  PG_TRY();
  {
    run(arg);
    ReleaseCurrentSubTransaction();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    error = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
  }
  PG_END_TRY();
  MemoryContextSwitchTo(context);
  CurrentResourceOwner = owner;
  return error;
}

}  // namespace

ErrorData *run_in_subtransaction(void (*run)(void *), void *arg) {
  // What the attempt allocates goes when it ends, success or not: a retry starts clean, and
  // hooks below ours that tie state to the current memory context (pgaudit's statement
  // stack) see each attempt end.  So run() must leave nothing the caller keeps in it.
  MemoryContext attempt = AllocSetContextCreate(CurrentMemoryContext, "zero_downtime attempt",
                                                ALLOCSET_DEFAULT_SIZES);
  ErrorData *error = run_in_subtransaction_in(attempt, run, arg);
  MemoryContextDelete(attempt);
  return error;
}

bool gather_or_give_up(void (*run)(void *), void *arg) {
  // In the caller's context: what run() gathers (SQL text, names) is the caller's to keep.
  // After an error, what it had allocated stays until the caller's context goes (the
  // statement's), which is little.
  ErrorData *error = run_in_subtransaction_in(CurrentMemoryContext, run, arg);
  if (error == nullptr) return true;
  if (error->sqlerrcode == ERRCODE_QUERY_CANCELED || error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
    ReThrowError(error);
  return false;
}

}  // namespace zd::pg
