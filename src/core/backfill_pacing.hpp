// zd_backfill's pacing decisions, pure C++ so they are unit-tested without a server:
// how many heap blocks the next batch covers, and how long to wait before retrying a batch.
#pragma once

#include <cstdint>

namespace zd {

// Blocks for the first batch: enough for about `batch_rows` rows at the table's density.
// rows_per_block <= 0 (never analyzed) assumes a modest density, so a first batch errs small.
int64_t first_batch_blocks(int64_t batch_rows, double rows_per_block);

// Blocks for the next batch, steering the batch's duration toward target_ms.  A batch that
// took elapsed_ms scales the size by target/elapsed, held to [x0.5, x2] per step so one noisy
// batch (a checkpoint, a lock wait) cannot swing it, and to [1, max_blocks].  target_ms <= 0:
// the size is fixed.
int64_t next_batch_blocks(int64_t blocks, double elapsed_ms, double target_ms,
                          int64_t max_blocks);

// Wait before retry number `retry` (1, 2, ...) of a batch that hit a deadlock, serialization
// failure or lock timeout: 100 ms doubling per retry up to 5 s, times a jitter factor in
// [1, 1.5) (jitter01 in [0, 1)) so sessions that collided do not collide again.
int retry_wait_ms(int retry, double jitter01);

}  // namespace zd
