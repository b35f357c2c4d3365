#include "formats/encoding.hpp"

#include <array>
#include <cstring>

namespace assay::formats {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 0..63 for the alphabet's characters, -1 otherwise.
int b64_value(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

// Decodes groups of base64 characters without padding; `tail` = characters in the last group
// (0, 2 or 3). Returns the byte count or -1.
ptrdiff_t decode_b64_body(std::string_view text, bool url, std::span<uint8_t> out) {
  const size_t full = text.size() / 4;
  const size_t tail = text.size() % 4;
  if (tail == 1) return -1;
  const size_t n = full * 3 + (tail == 0 ? 0 : tail - 1);
  if (n > out.size()) return -1;
  size_t o = 0;
  size_t i = 0;
  for (size_t g = 0; g < full; ++g, i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int d = b64_value(text[i + k], url);
      if (d < 0) return -1;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out[o++] = static_cast<uint8_t>(v >> 16);
    out[o++] = static_cast<uint8_t>(v >> 8);
    out[o++] = static_cast<uint8_t>(v);
  }
  if (tail > 0) {
    uint32_t v = 0;
    for (size_t k = 0; k < tail; ++k) {
      const int d = b64_value(text[i + k], url);
      if (d < 0) return -1;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    if (tail == 2) {
      if (v & 0x0F) return -1;  // non-zero pad bits
      out[o++] = static_cast<uint8_t>(v >> 4);
    } else {
      if (v & 0x03) return -1;
      out[o++] = static_cast<uint8_t>(v >> 10);
      out[o++] = static_cast<uint8_t>(v >> 2);
    }
  }
  return static_cast<ptrdiff_t>(o);
}

// Reads one DER INTEGER (tag 0x02, short-form length) at `p` into a right-aligned field.
bool read_der_integer(const uint8_t*& p, const uint8_t* end, size_t field_bytes, uint8_t* out) {
  if (end - p < 2 || p[0] != 0x02) return false;
  const size_t len = p[1];
  if (len == 0 || len >= 0x80) return false;  // field sizes <= 66 never need long form
  p += 2;
  if (static_cast<size_t>(end - p) < len) return false;
  const uint8_t* v = p;
  size_t n = len;
  if (v[0] & 0x80) return false;                              // negative
  if (n > 1 && v[0] == 0x00 && !(v[1] & 0x80)) return false;  // non-minimal
  if (v[0] == 0x00 && n > 1) {
    ++v;
    --n;
  }
  if (n > field_bytes) return false;
  std::memset(out, 0, field_bytes - n);
  std::memcpy(out + (field_bytes - n), v, n);
  p += len;
  return true;
}

}  // namespace

ptrdiff_t decode_hex(std::string_view text, std::span<uint8_t> out) {
  if (text.size() % 2 != 0 || text.size() / 2 > out.size()) return -1;
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return static_cast<ptrdiff_t>(text.size() / 2);
}

ptrdiff_t decode_base64(std::string_view text, std::span<uint8_t> out) {
  if (text.size() % 4 != 0) return -1;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = 1;
    if (text.size() >= 2 && text[text.size() - 2] == '=') pad = 2;
  }
  return decode_b64_body(text.substr(0, text.size() - pad), false, out);
}

ptrdiff_t decode_base64url(std::string_view text, std::span<uint8_t> out) {
  return decode_b64_body(text, true, out);
}

bool ecdsa_der_to_raw(std::span<const uint8_t> der, size_t field_bytes, std::span<uint8_t> out) {
  if (field_bytes == 0 || field_bytes > 66 || out.size() < 2 * field_bytes) return false;
  const uint8_t* p = der.data();
  const uint8_t* end = p + der.size();
  if (end - p < 2 || p[0] != 0x30) return false;
  size_t len = p[1];
  p += 2;
  if (len == 0x81) {  // long form: only for contents of 128..255 bytes
    if (end - p < 1 || p[0] < 0x80) return false;
    len = p[0];
    ++p;
  } else if (len >= 0x80) {
    return false;
  }
  if (static_cast<size_t>(end - p) != len) return false;  // trailing bytes or truncated
  if (!read_der_integer(p, end, field_bytes, out.data())) return false;
  if (!read_der_integer(p, end, field_bytes, out.data() + field_bytes)) return false;
  return p == end;
}

}  // namespace assay::formats
