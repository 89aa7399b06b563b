// Which side of a migration a write is for: every combination of what the client states and
// what the write names.
#include <gtest/gtest.h>

#include "core/sync_side.hpp"

namespace zd {
namespace {

WriteFacts write(bool insert, StatedSide stated, bool old_w, bool new_w, bool correspond = false) {
  WriteFacts w;
  w.is_insert = insert;
  w.stated = stated;
  w.old_written = old_w;
  w.new_written = new_w;
  w.both_correspond = correspond;
  return w;
}

TEST(SyncSide, TheWriteTellsWhenTheClientSaysNothing) {
  for (bool insert : {true, false}) {
    EXPECT_EQ(side_of_write(write(insert, StatedSide::None, true, false)), WriteSide::Old);
    EXPECT_EQ(side_of_write(write(insert, StatedSide::None, false, true)), WriteSide::New);
  }
}

TEST(SyncSide, BothWrittenMustCorrespond) {
  for (StatedSide s : {StatedSide::None, StatedSide::Old, StatedSide::New}) {
    EXPECT_EQ(side_of_write(write(false, s, true, true, true)), WriteSide::Untouched);
    EXPECT_EQ(side_of_write(write(false, s, true, true, false)), WriteSide::Conflict);
    EXPECT_EQ(side_of_write(write(true, s, true, true, false)), WriteSide::Conflict);
  }
}

TEST(SyncSide, AStatedVersionMustMatchWhatItWrote) {
  EXPECT_EQ(side_of_write(write(false, StatedSide::New, true, false)), WriteSide::Conflict);
  EXPECT_EQ(side_of_write(write(false, StatedSide::Old, false, true)), WriteSide::Conflict);
  EXPECT_EQ(side_of_write(write(false, StatedSide::New, false, true)), WriteSide::New);
  EXPECT_EQ(side_of_write(write(false, StatedSide::Old, true, false)), WriteSide::Old);
}

TEST(SyncSide, NeitherWritten) {
  // An insert of defaults follows the stated side, else the old one; an update of other
  // columns touches neither.
  EXPECT_EQ(side_of_write(write(true, StatedSide::None, false, false)), WriteSide::Old);
  EXPECT_EQ(side_of_write(write(true, StatedSide::Old, false, false)), WriteSide::Old);
  EXPECT_EQ(side_of_write(write(true, StatedSide::New, false, false)), WriteSide::New);
  for (StatedSide s : {StatedSide::None, StatedSide::Old, StatedSide::New})
    EXPECT_EQ(side_of_write(write(false, s, false, false)), WriteSide::Untouched);
}

TEST(SyncSide, VersionsCompareAsPeopleWriteThem) {
  EXPECT_LT(compare_versions("1.9", "1.10"), 0);
  EXPECT_GT(compare_versions("v10", "v2"), 0);
  EXPECT_EQ(compare_versions("v007", "v7"), 0);
  EXPECT_LT(compare_versions("2024-06-01", "2024-11-01"), 0);
  EXPECT_LT(compare_versions("1.2", "1.2.1"), 0);
  EXPECT_EQ(compare_versions("release-3", "release-3"), 0);
  EXPECT_LT(compare_versions("a", "b"), 0);
}

TEST(SyncSide, StatedSideFromVersions) {
  EXPECT_EQ(stated_side("", "2"), StatedSide::None);
  EXPECT_EQ(stated_side("2", ""), StatedSide::None);
  EXPECT_EQ(stated_side("1.9", "1.10"), StatedSide::Old);
  EXPECT_EQ(stated_side("1.10", "1.10"), StatedSide::New);
  EXPECT_EQ(stated_side("1.11", "1.10"), StatedSide::New);
}

FillFacts fill(FillMode mode, bool insert, bool written, bool is_null, bool inputs_changed) {
  FillFacts f;
  f.mode = mode;
  f.is_insert = insert;
  f.written = written;
  f.is_null = is_null;
  f.inputs_changed = inputs_changed;
  return f;
}

TEST(FillTrigger, WhenNullFillsOnlyANull) {
  for (bool insert : {true, false})
    for (bool written : {true, false})
      for (bool changed : {true, false}) {
        EXPECT_EQ(fill_action(fill(FillMode::WhenNull, insert, written, true, changed)),
                  FillAction::Compute);
        EXPECT_EQ(fill_action(fill(FillMode::WhenNull, insert, written, false, changed)),
                  FillAction::Keep);
      }
}

TEST(FillTrigger, WhenNotWrittenComputesWhatOldCodeLeavesOut) {
  // A write that gave the column no value (an old client's INSERT): computed, whatever is in
  // the row.
  EXPECT_EQ(fill_action(fill(FillMode::WhenNotWritten, true, false, false, false)),
            FillAction::Compute);
  EXPECT_EQ(fill_action(fill(FillMode::WhenNotWritten, true, false, true, false)),
            FillAction::Compute);
  // New code wrote it: its value stays, NULL included.
  EXPECT_EQ(fill_action(fill(FillMode::WhenNotWritten, true, true, true, false)),
            FillAction::Keep);
  EXPECT_EQ(fill_action(fill(FillMode::WhenNotWritten, false, true, false, true)),
            FillAction::Keep);
  // An UPDATE that changed what the expression reads: computed again.
  EXPECT_EQ(fill_action(fill(FillMode::WhenNotWritten, false, false, false, true)),
            FillAction::Compute);
  // An UPDATE of other columns keeps what is there (new code may have written it).
  EXPECT_EQ(fill_action(fill(FillMode::WhenNotWritten, false, false, false, false)),
            FillAction::Keep);
}

}  // namespace
}  // namespace zd
