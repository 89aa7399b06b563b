// Non-owning text and arrays for the fact structs.  Facts are filled by the PostgreSQL side in
// palloc memory, in frames an ereport(ERROR) may longjmp over, so they must need no
// destructor: Text and Span are plain pointers.  They read like strings in the rules.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace zd {

class Text {
 public:
  Text() = default;
  Text(const char *text) : ptr_(text) {}  // NOLINT: implicit on purpose, like std::string_view
  const char *c_str() const { return ptr_ != nullptr ? ptr_ : ""; }
  bool empty() const { return ptr_ == nullptr || *ptr_ == '\0'; }
  std::string str() const { return c_str(); }
  operator std::string() const { return str(); }  // NOLINT
  bool operator==(const char *other) const { return std::strcmp(c_str(), other) == 0; }

 private:
  const char *ptr_ = nullptr;
};

inline std::string operator+(const std::string &a, Text b) { return a + b.c_str(); }
inline std::string operator+(Text a, const std::string &b) { return a.c_str() + b; }
inline std::string operator+(const char *a, Text b) { return std::string(a) + b.c_str(); }
inline std::string operator+(Text a, const char *b) { return std::string(a.c_str()) + b; }

template <typename T>
struct Span {
  T *items = nullptr;
  size_t count = 0;

  T *begin() const { return items; }
  T *end() const { return items + count; }
  size_t size() const { return count; }
  bool empty() const { return count == 0; }
  T &operator[](size_t i) const { return items[i]; }
};

inline std::vector<std::string> to_strings(Span<const Text> texts) {
  std::vector<std::string> out;
  for (const Text &t : texts) out.push_back(t.str());
  return out;
}

}  // namespace zd
