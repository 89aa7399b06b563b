// Which side of an expand/contract migration a write is for, decided per row by the sync
// trigger (src/pg/expand/sync_trigger.cpp) from plain facts.  Pure and allocation-free: the
// trigger calls it for every row.
//
//   - A client that states its version (zero_downtime.client_version) is for the new side when
//     its version is the migration's or later (compare_versions), else for the old side.
//   - Otherwise the write tells: the side whose column it wrote (an INSERT's column list, an
//     UPDATE's SET list) is the side it is for: an old client never names the new column, a new
//     client never names the old one.
//   - A write that set both columns to values that do not correspond (new != up(old)) is an
//     error to that writer, never a silent pick; so is a client stating one version that wrote
//     only the other side's column.
//   - A write that set neither column (an INSERT that left both to their defaults; an UPDATE of
//     other columns) is for the stated side, else the old side (the new column follows it); an
//     UPDATE of other columns leaves both as they are.
#pragma once

#include <string>

namespace zd {

enum class WriteSide { Old, New, Untouched, Conflict };
enum class StatedSide { None, Old, New };

struct WriteFacts {
  bool is_insert = false;
  StatedSide stated = StatedSide::None;
  bool old_written = false;  // the statement names the old column (INSERT list, UPDATE SET)
  bool new_written = false;
  bool both_correspond = false;  // when both written: new = up(old)
};

WriteSide side_of_write(const WriteFacts &w);

// Orders application versions the way people write them: runs of digits compare as numbers,
// other runs as text ("1.10" > "1.9", "v2" < "v10", "2024-06-01" < "2024-11-01").
// Negative, zero or positive.
int compare_versions(const std::string &a, const std::string &b);

// The side a client stating `client_version` is on for a migration of version
// `migration_version` ("" for either: None).
StatedSide stated_side(const std::string &client_version, const std::string &migration_version);

// The fill trigger of a migration that makes a column NOT NULL or adds a column filled from an
// expression (src/pg/expand/fill_trigger.cpp): per row, whether it computes the column from the
// migration's expression.
//   - WhenNull (make NOT NULL, a fill expression given): a write that leaves the column NULL
//     gets the fill value; any other value is kept.
//   - WhenNotWritten (add a column): old code does not know the column, so a write that does
//     not give it a value gets the expression's: an INSERT always, an UPDATE only when it
//     changed a column the expression reads (an UPDATE of other columns keeps what is there,
//     which new code may have written).  A write that gives the column its value keeps it (the
//     trigger counts an INSERT's non-NULL value, an UPDATE's SET of the column).
enum class FillMode { WhenNull, WhenNotWritten };
enum class FillAction { Keep, Compute };

struct FillFacts {
  FillMode mode = FillMode::WhenNull;
  bool is_insert = false;
  bool written = false;         // the write gave the column its value (INSERT: not NULL;
                                // UPDATE: in its SET list)
  bool is_null = false;         // the column's value in the row being written
  bool inputs_changed = false;  // an UPDATE set a column the expression reads
};

FillAction fill_action(const FillFacts &f);

}  // namespace zd
