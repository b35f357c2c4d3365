#pragma once
/// \file A fixed-capacity text buffer for parsed records. Its capacity is set once before a
/// parse (from the input size, which bounds everything a parser stores) and it never grows
/// during the parse, so every std::string_view handed out stays valid until the next reset().
/// The buffer is a std::vector, whose storage moves with it: a parsed record can be moved (not
/// copied) without invalidating its views.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace assay::formats {

/// Append-only text storage with views that stay valid until reset().
class TextArena {
 public:
  TextArena() = default;
  TextArena(const TextArena&) = delete;
  TextArena& operator=(const TextArena&) = delete;
  TextArena(TextArena&&) noexcept = default;
  TextArena& operator=(TextArena&&) noexcept = default;

  /// Empties the arena and makes room for `capacity` bytes (reallocates only to grow).
  /// Invalidates every view handed out before.
  void reset(size_t capacity) {
    if (buf_.size() < capacity) buf_.assign(capacity, 0);
    cap_ = capacity;
    used_ = 0;
  }
  /// Copies `s` in; false (and nothing stored) if it does not fit.
  bool append(std::string_view s, std::string_view* out) {
    if (s.size() > cap_ - used_) return false;
    char* p = buf_.data() + used_;
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    used_ += s.size();
    *out = {p, s.size()};
    return true;
  }
  /// Reserves `n` bytes and returns them for the caller to fill; empty span if they do not fit.
  std::span<char> allocate(size_t n) {
    if (n > cap_ - used_) return {};
    char* p = buf_.data() + used_;
    used_ += n;
    return {p, n};
  }
  /// Start of the next byte to be written (for building a value piece by piece).
  const char* cursor() const { return buf_.data() + used_; }
  /// Bytes used so far.
  size_t used() const { return used_; }
  /// Bytes left.
  size_t remaining() const { return cap_ - used_; }

 private:
  std::vector<char> buf_;
  size_t cap_ = 0;
  size_t used_ = 0;
};

}  // namespace assay::formats
