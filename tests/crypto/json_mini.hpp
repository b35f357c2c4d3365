#pragma once
/// \file Minimal header-only JSON reader for test-vector files (Wycheproof, speccheck).
///
/// Test-only helper: parses a complete JSON document into a tree of json_mini::Value. Supports
/// objects, arrays, strings (with \uXXXX escapes, encoded as UTF-8), numbers (as double),
/// true/false/null. Throws std::runtime_error on malformed input. Not for production use.

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace json_mini {

/// One JSON value.
struct Value {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::map<std::string, Value> object;

  /// Object member access; throws if this is not an object or the key is missing.
  const Value& operator[](const std::string& key) const {
    if (type != Type::kObject) throw std::runtime_error("json_mini: not an object");
    auto it = object.find(key);
    if (it == object.end()) throw std::runtime_error("json_mini: missing key " + key);
    return it->second;
  }
  /// Array element access; throws if out of range or not an array.
  const Value& operator[](size_t i) const {
    if (type != Type::kArray || i >= array.size()) throw std::runtime_error("json_mini: bad index");
    return array[i];
  }
  /// True if this is an object containing key.
  bool has(const std::string& key) const {
    return type == Type::kObject && object.count(key) != 0;
  }
  /// Number of elements (array) or members (object).
  size_t size() const { return type == Type::kArray ? array.size() : object.size(); }
  /// String value; throws if not a string.
  const std::string& str() const {
    if (type != Type::kString) throw std::runtime_error("json_mini: not a string");
    return string;
  }
  /// Numeric value as an integer; throws if not a number.
  int64_t integer() const {
    if (type != Type::kNumber) throw std::runtime_error("json_mini: not a number");
    return static_cast<int64_t>(number);
  }
};

namespace detail {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Value parse_document() {
    Value v = parse_value();
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("json_mini: ") + what + " at offset " +
                             std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++pos_;
  }
  bool consume_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) == lit) {
      pos_ += lit.size();
      return true;
    }
    return false;
  }

  Value parse_value() {
    const char c = peek();
    Value v;
    if (c == '{') {
      v.type = Value::Type::kObject;
      ++pos_;
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      for (;;) {
        if (peek() != '"') fail("expected key");
        std::string key = parse_string();
        expect(':');
        v.object[key] = parse_value();
        const char d = peek();
        ++pos_;
        if (d == '}') break;
        if (d != ',') fail("expected , or }");
      }
    } else if (c == '[') {
      v.type = Value::Type::kArray;
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      for (;;) {
        v.array.push_back(parse_value());
        const char d = peek();
        ++pos_;
        if (d == ']') break;
        if (d != ',') fail("expected , or ]");
      }
    } else if (c == '"') {
      v.type = Value::Type::kString;
      v.string = parse_string();
    } else if (consume_literal("true")) {
      v.type = Value::Type::kBool;
      v.boolean = true;
    } else if (consume_literal("false")) {
      v.type = Value::Type::kBool;
    } else if (consume_literal("null")) {
      v.type = Value::Type::kNull;
    } else {
      v.type = Value::Type::kNumber;
      const size_t start = pos_;
      while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) !=
                                     std::string_view::npos) {
        ++pos_;
      }
      if (start == pos_) fail("unexpected character");
      v.number = std::strtod(std::string(s_.substr(start, pos_ - start)).c_str(), nullptr);
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad hex digit");
    }
    return v;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("bad escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            const uint32_t lo = parse_hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace detail

/// Parses a JSON document; throws std::runtime_error on malformed input.
inline Value parse(std::string_view text) { return detail::Parser(text).parse_document(); }

/// Reads and parses a JSON file; throws std::runtime_error if it cannot be read or parsed.
inline Value parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("json_mini: cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str());
}

/// Decodes a hex string ("" -> empty); throws std::runtime_error on odd length or bad digits.
inline std::vector<uint8_t> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("json_mini: odd hex length");
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("json_mini: bad hex digit");
  };
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  }
  return out;
}

}  // namespace json_mini
