// The rule registry: well formed, covering every operation kind a rule should judge, and the
// README's rule table made of it.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/rule_catalog.hpp"

namespace zd {
namespace {

TEST(RuleCatalog, NamesAreUniqueAndFound) {
  std::set<std::string> names;
  for (size_t i = 0; i < kRuleCount; i++) {
    EXPECT_TRUE(names.insert(kRules[i].name).second) << kRules[i].name;
    EXPECT_EQ(find_rule(kRules[i].name), &kRules[i]);
    // (A statement-level rule, schema-drift, has neither operation kinds nor a check.)
    EXPECT_EQ(kRules[i].check == nullptr, kRules[i].looks_at == kStatementLevel) << kRules[i].name;
  }
  EXPECT_EQ(find_rule("no-such-rule"), nullptr);
}

// Every kind of operation has a rule of its own, but the two that are safe alone (a VALIDATE,
// under SHARE UPDATE EXCLUSIVE; any other locking statement, which the lock cap covers): only
// long-under-held-lock looks at those.
TEST(RuleCatalog, EveryOperationKindIsJudged) {
  for (int k = 0; k < kOpKindCount; k++) {
    const OpKind kind = (OpKind) k;
    int own = 0;
    for (size_t i = 0; i < kRuleCount; i++)
      if (kRules[i].looks_at_kind(kind) && kRules[i].looks_at != kAllKinds) own++;
    const bool safe_alone = kind == OpKind::ValidateConstraint || kind == OpKind::OtherLocking;
    EXPECT_EQ(own > 0, !safe_alone) << op_kind_name(kind);
    EXPECT_STRNE(op_kind_name(kind), "?");
  }
  EXPECT_EQ(std::string(kRules[kRuleCount - 1].name), "long-under-held-lock");
}

// zd_status()'s notes: each major gets the ones of its range, each naming a rule.
std::string notes_for(int server_version_num) {
  std::string all;
  for (size_t i = 0; i < kVersionNoteCount; i++)
    if (version_note_applies(kVersionNotes[i], server_version_num))
      all += std::string(kVersionNotes[i].note) + "\n";
  return all;
}

TEST(RuleCatalog, VersionNotesPerMajor) {
  for (size_t i = 0; i < kVersionNoteCount; i++) {
    const std::string note = kVersionNotes[i].note;
    const std::string rule = note.substr(0, note.find_first_of(":,"));
    EXPECT_NE(find_rule(rule.c_str()), nullptr) << note;
  }
  EXPECT_NE(notes_for(150018).find("helper CHECK"), std::string::npos);
  EXPECT_EQ(notes_for(150018).find("set-expression"), std::string::npos);
  EXPECT_NE(notes_for(170012).find("set-expression"), std::string::npos);
  EXPECT_NE(notes_for(170012).find("helper CHECK"), std::string::npos);
  EXPECT_EQ(notes_for(170012).find("REPACK"), std::string::npos);
  EXPECT_NE(notes_for(180006).find("NOT NULL c NOT VALID"), std::string::npos);
  EXPECT_EQ(notes_for(180006).find("helper CHECK"), std::string::npos);
  EXPECT_EQ(notes_for(180006).find("REPACK"), std::string::npos);
  EXPECT_NE(notes_for(190000).find("repack: REPACK without CONCURRENTLY"), std::string::npos);
  EXPECT_NE(notes_for(190000).find("NOT NULL c NOT VALID"), std::string::npos);
}

std::string rendered_table() {
  std::ostringstream out;
  out << "| rule | catches, and why | guard does | to comply | per major |\n"
         "|---|---|---|---|---|\n";
  for (size_t i = 0; i < kRuleCount; i++)
    out << "| `" << kRules[i].name << "` | " << kRules[i].catches << " | "
        << kRules[i].guard_does << " | " << kRules[i].to_comply << " | "
        << (kRules[i].per_version ? kRules[i].per_version : "same on all") << " |\n";
  return out.str();
}

// The README's table is this registry's: on a difference, paste the table printed below.
TEST(RuleCatalog, ReadmeTableIsTheRegistry) {
  std::ifstream readme(ZD_SOURCE_DIR "/README.md");
  ASSERT_TRUE(readme.good());
  std::string line, table;
  bool in_table = false;
  while (std::getline(readme, line)) {
    if (line.rfind("| rule | catches, and why |", 0) == 0) in_table = true;
    if (in_table && line.rfind("|", 0) != 0) break;
    if (in_table) table += line + "\n";
  }
  EXPECT_EQ(table, rendered_table()) << "README.md's rule table should read:\n"
                                     << rendered_table();
}

}  // namespace
}  // namespace zd
