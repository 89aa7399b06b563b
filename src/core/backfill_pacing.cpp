#include "core/backfill_pacing.hpp"

#include <algorithm>
#include <cmath>

#include "core/pg_free.hpp"

namespace zd {

namespace {
// An unanalyzed table: assume 50 rows per 8 kB block (rows of ~150 bytes).
constexpr double kDefaultRowsPerBlock = 50.0;
constexpr int kFirstRetryWaitMs = 100;
constexpr int kMaxRetryWaitMs = 5000;
}  // namespace

int64_t first_batch_blocks(int64_t batch_rows, double rows_per_block) {
  const double density = rows_per_block > 0 ? rows_per_block : kDefaultRowsPerBlock;
  const double blocks = std::ceil(static_cast<double>(std::max<int64_t>(batch_rows, 1)) / density);
  return std::max<int64_t>(1, static_cast<int64_t>(blocks));
}

int64_t next_batch_blocks(int64_t blocks, double elapsed_ms, double target_ms,
                          int64_t max_blocks) {
  blocks = std::max<int64_t>(blocks, 1);
  max_blocks = std::max<int64_t>(max_blocks, 1);
  if (target_ms <= 0) return std::min(blocks, max_blocks);
  const double ratio = elapsed_ms > 0 ? std::clamp(target_ms / elapsed_ms, 0.5, 2.0) : 2.0;
  const double next = std::round(static_cast<double>(blocks) * ratio);
  return std::clamp<int64_t>(static_cast<int64_t>(next), 1, max_blocks);
}

int retry_wait_ms(int retry, double jitter01) {
  const int doublings = std::clamp(retry - 1, 0, 16);
  const int64_t base = std::min<int64_t>(static_cast<int64_t>(kFirstRetryWaitMs) << doublings,
                                         kMaxRetryWaitMs);
  const double jitter = 1.0 + 0.5 * std::clamp(jitter01, 0.0, 0.999);
  return static_cast<int>(static_cast<double>(base) * jitter);
}

}  // namespace zd
