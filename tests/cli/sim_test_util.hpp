#pragma once
// Helpers shared by the sim/inspect/keygen CLI tests: argv building, temp dirs, file reading,
// a strict structural JSON checker.

#include <gtest/gtest.h>

#include "engine/framing.hpp"
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace assay::test {

inline int run_cmd(int (*fn)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return fn(static_cast<int>(args.size()), argv.data());
}

/// Runs a command with stdout captured.
inline int run_capture(int (*fn)(int, char**), std::vector<std::string> args, std::string& out) {
  std::fflush(stdout);
  testing::internal::CaptureStdout();
  const int rc = run_cmd(fn, std::move(args));
  std::fflush(stdout);
  out = testing::internal::GetCapturedStdout();
  return rc;
}

inline std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::path(ASSAY_BINARY_DIR) / "test-tmp" /
           (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t e = s.find('\n', start);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(start, e - start));
    start = e + 1;
  }
  return out;
}

/// Reads all frames of a framed record file (stops at a truncated frame).
inline std::vector<std::vector<uint8_t>> read_frames(const std::filesystem::path& p) {
  return engine::read_frame_file(p.string());
}

/// Strict structural JSON validator (RFC 8259 grammar; strings must be valid UTF-8 and free of
/// raw control characters).
class JsonCheck {
 public:
  static bool valid(std::string_view s) {
    JsonCheck c{s};
    c.ws();
    if (!c.value(0)) return false;
    c.ws();
    return c.p_ == s.size();
  }

 private:
  explicit JsonCheck(std::string_view s) : s_(s) {}
  bool value(int depth) {
    if (depth > 200 || p_ >= s_.size()) return false;
    const char c = s_[p_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return string();
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'n') return lit("null");
    return number();
  }
  bool lit(std::string_view l) {
    if (s_.substr(p_, l.size()) != l) return false;
    p_ += l.size();
    return true;
  }
  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\t' || s_[p_] == '\r')) ++p_;
  }
  bool object(int depth) {
    ++p_;
    ws();
    if (p_ < s_.size() && s_[p_] == '}') return ++p_, true;
    while (true) {
      ws();
      if (!string()) return false;
      ws();
      if (p_ >= s_.size() || s_[p_] != ':') return false;
      ++p_;
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (p_ >= s_.size()) return false;
      if (s_[p_] == ',') { ++p_; continue; }
      if (s_[p_] == '}') return ++p_, true;
      return false;
    }
  }
  bool array(int depth) {
    ++p_;
    ws();
    if (p_ < s_.size() && s_[p_] == ']') return ++p_, true;
    while (true) {
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (p_ >= s_.size()) return false;
      if (s_[p_] == ',') { ++p_; continue; }
      if (s_[p_] == ']') return ++p_, true;
      return false;
    }
  }
  bool string() {
    if (p_ >= s_.size() || s_[p_] != '"') return false;
    ++p_;
    while (p_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[p_]);
      if (c == '"') return ++p_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++p_ >= s_.size()) return false;
        const char e = s_[p_];
        if (e == 'u') {
          for (int i = 1; i <= 4; ++i)
            if (p_ + i >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[p_ + i]))) return false;
          p_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return false;
        ++p_;
        continue;
      }
      if (c >= 0x80) {
        int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : -1;
        if (n < 0 || c > 0xF4) return false;
        for (int i = 1; i <= n; ++i)
          if (p_ + i >= s_.size() || (static_cast<unsigned char>(s_[p_ + i]) & 0xC0) != 0x80) return false;
        p_ += n + 1;
        continue;
      }
      ++p_;
    }
    return false;
  }
  bool number() {
    const size_t start = p_;
    if (p_ < s_.size() && s_[p_] == '-') ++p_;
    if (p_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[p_]))) return false;
    if (s_[p_] == '0') {
      ++p_;
    } else {
      while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    }
    if (p_ < s_.size() && s_[p_] == '.') {
      ++p_;
      if (p_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[p_]))) return false;
      while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (p_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[p_]))) return false;
      while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    }
    return p_ > start;
  }
  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace assay::test
