#include "formats/json_text.hpp"

namespace assay::formats {
namespace {

// Length of the escape of c (1 if it needs none).
size_t escape_len(unsigned char c) {
  switch (c) {
    case '"':
    case '\\':
    case '\b':
    case '\f':
    case '\n':
    case '\r':
    case '\t':
      return 2;
    default:
      return c < 0x20 ? 6 : 1;
  }
}

}  // namespace

size_t json_escaped_size(std::string_view s) {
  size_t n = 2;
  for (char c : s) n += escape_len(static_cast<unsigned char>(c));
  return n;
}

void json_escape_into(std::string_view s, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out++ = '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out++ = '\\';
        *out++ = '"';
        break;
      case '\\':
        *out++ = '\\';
        *out++ = '\\';
        break;
      case '\b':
        *out++ = '\\';
        *out++ = 'b';
        break;
      case '\f':
        *out++ = '\\';
        *out++ = 'f';
        break;
      case '\n':
        *out++ = '\\';
        *out++ = 'n';
        break;
      case '\r':
        *out++ = '\\';
        *out++ = 'r';
        break;
      case '\t':
        *out++ = '\\';
        *out++ = 't';
        break;
      default:
        if (c < 0x20) {
          *out++ = '\\';
          *out++ = 'u';
          *out++ = '0';
          *out++ = '0';
          *out++ = kHex[c >> 4];
          *out++ = kHex[c & 15];
        } else {
          *out++ = ch;
        }
    }
  }
  *out = '"';
}

}  // namespace assay::formats
