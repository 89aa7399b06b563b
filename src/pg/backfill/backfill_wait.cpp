// zd_backfill's waits: between batches, before retries, while standbys catch up.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace zd::pg::backfill {

void sleep_ms(int ms) {
  while (ms > 0) {
    // In slices, so a cancel or termination is seen at once whatever the wait.
    const int slice = ms < 1000 ? ms : 1000;
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, slice,
                     PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    ms -= slice;
  }
}

}  // namespace zd::pg::backfill
