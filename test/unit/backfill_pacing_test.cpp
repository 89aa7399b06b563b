// Unit tests of zd_backfill's pacing: batch sizing toward a target duration, retry waits.
#include <gtest/gtest.h>

#include "core/backfill_pacing.hpp"

namespace zd {
namespace {

TEST(BackfillPacing, FirstBatchCoversTheRequestedRowsAtTheTablesDensity) {
  EXPECT_EQ(first_batch_blocks(10000, 100.0), 100);
  EXPECT_EQ(first_batch_blocks(10001, 100.0), 101);  // rounds up: never fewer rows than asked
  EXPECT_EQ(first_batch_blocks(1, 100.0), 1);
}

TEST(BackfillPacing, FirstBatchOfAnUnanalyzedTableAssumesFiftyRowsPerBlock) {
  EXPECT_EQ(first_batch_blocks(10000, 0.0), 200);
  EXPECT_EQ(first_batch_blocks(10000, -1.0), 200);
}

TEST(BackfillPacing, SlowBatchShrinksFastBatchGrows) {
  EXPECT_EQ(next_batch_blocks(100, 100.0, 50.0, 1000000), 50);   // twice too slow: half
  EXPECT_EQ(next_batch_blocks(100, 25.0, 50.0, 1000000), 200);   // twice too fast: double
  EXPECT_EQ(next_batch_blocks(100, 40.0, 50.0, 1000000), 125);   // proportional in between
}

TEST(BackfillPacing, OneStepChangesTheSizeAtMostTwofold) {
  EXPECT_EQ(next_batch_blocks(100, 5000.0, 50.0, 1000000), 50);  // a checkpoint stall
  EXPECT_EQ(next_batch_blocks(100, 0.5, 50.0, 1000000), 200);    // an empty range
  EXPECT_EQ(next_batch_blocks(100, 0.0, 50.0, 1000000), 200);
}

TEST(BackfillPacing, SizeStaysWithinOneBlockAndTheCap) {
  EXPECT_EQ(next_batch_blocks(1, 1000.0, 50.0, 1000000), 1);
  EXPECT_EQ(next_batch_blocks(800, 1.0, 50.0, 1000), 1000);
  EXPECT_EQ(next_batch_blocks(0, 50.0, 50.0, 1000), 1);
}

TEST(BackfillPacing, NoTargetKeepsTheSizeFixed) {
  EXPECT_EQ(next_batch_blocks(100, 5000.0, 0.0, 1000000), 100);
  EXPECT_EQ(next_batch_blocks(100, 1.0, -1.0, 1000000), 100);
}

TEST(BackfillPacing, RetryWaitDoublesFromOneHundredMsUpToFiveSeconds) {
  EXPECT_EQ(retry_wait_ms(1, 0.0), 100);
  EXPECT_EQ(retry_wait_ms(2, 0.0), 200);
  EXPECT_EQ(retry_wait_ms(3, 0.0), 400);
  EXPECT_EQ(retry_wait_ms(7, 0.0), 5000);
  EXPECT_EQ(retry_wait_ms(1000, 0.0), 5000);
}

TEST(BackfillPacing, RetryWaitJitterAddsUpToHalf) {
  EXPECT_EQ(retry_wait_ms(1, 0.5), 125);
  EXPECT_LT(retry_wait_ms(1, 1.0), 150);
  EXPECT_EQ(retry_wait_ms(1, -3.0), 100);
}

}  // namespace
}  // namespace zd
