#include "pg/sleep.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace zd::pg {

void sleep_ms(int ms) {
  do {
    // In slices, so a cancel or termination is seen at once whatever the wait.
    const int slice = ms < 1000 ? ms : 1000;
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, slice,
                     PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    ms -= slice;
  } while (ms > 0);
}

}  // namespace zd::pg
