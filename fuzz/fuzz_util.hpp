#pragma once
/// \file Helpers shared by the libFuzzer targets of fuzz/ (docs/testing.md).

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/log.hpp"

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

/// A file in memory (memfd): the parsers that read files by path read it as
/// /proc/self/fd/N, a regular file, so no target writes to a disk.
class MemFile {
 public:
  /// Creates the memfd (aborts if the kernel refuses).
  explicit MemFile(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() { ::close(fd_); }
  /// Replaces the content with `bytes`.
  void set(std::span<const uint8_t> bytes) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                                 static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }
  /// Replaces the content with `text`.
  void set(std::string_view text) {
    set(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
  /// The path that opens it.
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

/// Silences the engine's log lines (a level above every real one): refusals of bad input are
/// logged, and a target sees millions of them.
inline void quiet_logs() {
  engine::set_log_level(
      static_cast<engine::LogLevel>(static_cast<int>(engine::LogLevel::kError) + 1));
}

/// Reads a file of the repository (seeds, test keys) at start-up; aborts if it is missing.
std::string read_source_file(const std::string& relative);

}  // namespace assay::fuzz
