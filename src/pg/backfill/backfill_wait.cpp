// zd_backfill's waits for standbys: which of its batches they have not replayed, and how late.
#include "pg/backfill/backfill.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace zd::pg::backfill {

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
