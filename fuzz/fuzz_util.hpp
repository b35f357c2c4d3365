#pragma once
/// \file Helpers shared by the libFuzzer targets of fuzz/ (docs/testing.md).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

namespace assay::fuzz {

/// Aborts (a finding for libFuzzer) with `what` when `ok` is false: for properties a target
/// checks beyond "does not crash" (round trips, determinism).
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

/// Splits `data` at every occurrence of `sep` (a multi-record input: one record per piece).
inline std::vector<std::span<const uint8_t>> split(std::span<const uint8_t> data,
                                                   std::string_view sep) {
  std::vector<std::span<const uint8_t>> out;
  const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  size_t start = 0;
  for (;;) {
    const size_t at = sep.empty() ? std::string_view::npos : s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(data.subspan(start));
      return out;
    }
    out.push_back(data.subspan(start, at - start));
    start = at + sep.size();
  }
}

}  // namespace assay::fuzz
