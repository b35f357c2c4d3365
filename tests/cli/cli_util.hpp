#pragma once
// Running the real `assay` binary from CLI tests.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace assay::clitest {

/// The binary under test.
inline const std::string kAssay = ASSAY_BINARY_DIR "/cli/assay";

/// Exit code and output of a shell command.
struct Result {
  int code;
  std::string out;  ///< stdout + stderr
};

/// Runs `cmd` with /bin/sh, stderr joined to stdout.
inline Result sh(const std::string& cmd) {
  Result r{-1, {}};
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// Occurrences of `needle` in `hay`.
inline size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace assay::clitest
