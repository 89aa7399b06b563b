// zd_backfill's waits: between batches, before retries, while standbys catch up.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "storage/latch.h"
#include "utils/timestamp.h"
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

void note_write(UnreplayedWrites *w, XLogRecPtr lsn, TimestampTz at) {
  // Full: keep the oldest entries (the lag is measured from the oldest unreplayed one).
  if (w->count == UnreplayedWrites::kCapacity) return;
  const int slot = (w->first + w->count) % UnreplayedWrites::kCapacity;
  w->lsn[slot] = lsn;
  w->at[slot] = at;
  w->count++;
}

int64 replica_lag_ms(const Args *args, UnreplayedWrites *w) {
  int64 lag;
  XLogRecPtr replayed;
  standby_positions(args, &lag, &replayed);
  if (replayed == InvalidXLogRecPtr) {
    w->count = 0;  // no standby streams: nothing to wait for
    return lag;
  }
  while (w->count > 0 && w->lsn[w->first] <= replayed) {
    w->first = (w->first + 1) % UnreplayedWrites::kCapacity;
    w->count--;
  }
  if (w->count > 0) lag = Max(lag, (GetCurrentTimestamp() - w->at[w->first]) / 1000);
  return lag;
}

}  // namespace zd::pg::backfill
