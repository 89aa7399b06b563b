#include "pg/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
}

namespace zd::pg {

ErrorData *run_in_subtransaction(void (*run)(void *), void *arg) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  ErrorData *volatile error = nullptr;
  // What the attempt allocates goes when it ends, success or not: a retry starts clean, and
  // hooks below ours that tie state to the current memory context (pgaudit's statement
  // stack) see each attempt end.
  MemoryContext attempt = AllocSetContextCreate(context, "zero_downtime attempt",
                                                ALLOCSET_DEFAULT_SIZES);
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(attempt);
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
  MemoryContextDelete(attempt);
  CurrentResourceOwner = owner;
  return error;
}

bool gather_or_give_up(void (*run)(void *), void *arg) {
  ErrorData *error = run_in_subtransaction(run, arg);
  if (error == nullptr) return true;
  if (error->sqlerrcode == ERRCODE_QUERY_CANCELED || error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
    ReThrowError(error);
  return false;
}

}  // namespace zd::pg
