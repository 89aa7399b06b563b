#include "core/sync_side.hpp"

#include <cctype>

#include "core/pg_free.hpp"

namespace zd {

WriteSide side_of_write(const WriteFacts &w) {
  if (w.old_written && w.new_written)
    return w.both_correspond ? WriteSide::Untouched : WriteSide::Conflict;
  if (w.old_written) return w.stated == StatedSide::New ? WriteSide::Conflict : WriteSide::Old;
  if (w.new_written) return w.stated == StatedSide::Old ? WriteSide::Conflict : WriteSide::New;
  if (!w.is_insert) return WriteSide::Untouched;
  return w.stated == StatedSide::New ? WriteSide::New : WriteSide::Old;
}

FillAction fill_action(const FillFacts &f) {
  if (f.mode == FillMode::WhenNull) return f.is_null ? FillAction::Compute : FillAction::Keep;
  if (f.written) return FillAction::Keep;
  return f.is_insert || f.inputs_changed ? FillAction::Compute : FillAction::Keep;
}

int compare_versions(const std::string &a, const std::string &b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit((unsigned char) a[i]), db = std::isdigit((unsigned char) b[j]);
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit((unsigned char) a[ei])) ei++;
      while (ej < b.size() && std::isdigit((unsigned char) b[ej])) ej++;
      // Leading zeros do not count; then the longer run is the larger number.
      size_t si = i, sj = j;
      while (si + 1 < ei && a[si] == '0') si++;
      while (sj + 1 < ej && b[sj] == '0') sj++;
      if (ei - si != ej - sj) return ei - si < ej - sj ? -1 : 1;
      const int c = a.compare(si, ei - si, b, sj, ej - sj);
      if (c != 0) return c < 0 ? -1 : 1;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return (unsigned char) a[i] < (unsigned char) b[j] ? -1 : 1;
      i++;
      j++;
    }
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

StatedSide stated_side(const std::string &client_version, const std::string &migration_version) {
  if (client_version.empty() || migration_version.empty()) return StatedSide::None;
  return compare_versions(client_version, migration_version) >= 0 ? StatedSide::New
                                                                  : StatedSide::Old;
}

}  // namespace zd
