#pragma once
// A tiny CBOR writer for building test inputs (valid and deliberately broken ones).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace assay::formats::test {

struct Cbor {
  std::vector<uint8_t> b;
  // A head of major type `major` (0..7) with argument `v`, shortest form.
  Cbor& head(int major, uint64_t v) {
    const uint8_t m = static_cast<uint8_t>(major << 5);
    if (v < 24) {
      b.push_back(m | static_cast<uint8_t>(v));
    } else if (v < 0x100) {
      b.insert(b.end(), {static_cast<uint8_t>(m | 24), static_cast<uint8_t>(v)});
    } else if (v < 0x10000) {
      b.insert(b.end(), {static_cast<uint8_t>(m | 25), static_cast<uint8_t>(v >> 8),
                         static_cast<uint8_t>(v)});
    } else if (v <= 0xFFFFFFFFu) {
      b.push_back(m | 26);
      for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    } else {
      b.push_back(m | 27);
      for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    }
    return *this;
  }
  Cbor& uint(uint64_t v) { return head(0, v); }
  Cbor& neg(int64_t v) { return head(1, static_cast<uint64_t>(-1 - v)); }  // v < 0
  Cbor& integer(int64_t v) { return v < 0 ? neg(v) : uint(static_cast<uint64_t>(v)); }
  Cbor& bstr(std::span<const uint8_t> s) {
    head(2, s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Cbor& bstr(std::string_view s) {
    return bstr(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  Cbor& bstr(const Cbor& inner) { return bstr(std::span<const uint8_t>(inner.b)); }
  Cbor& text(std::string_view s) {
    head(3, s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Cbor& array(uint64_t n) { return head(4, n); }
  Cbor& map(uint64_t n) { return head(5, n); }
  Cbor& tag(uint64_t t) { return head(6, t); }
  Cbor& f64(double d) {
    uint64_t u;
    static_assert(sizeof u == sizeof d);
    __builtin_memcpy(&u, &d, 8);
    b.push_back(0xFB);
    for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(u >> s));
    return *this;
  }
  Cbor& boolean(bool v) {
    b.push_back(v ? 0xF5 : 0xF4);
    return *this;
  }
  Cbor& null() {
    b.push_back(0xF6);
    return *this;
  }
  Cbor& raw(std::initializer_list<uint8_t> bytes) {
    b.insert(b.end(), bytes);
    return *this;
  }
  Cbor& append(const Cbor& o) {
    b.insert(b.end(), o.b.begin(), o.b.end());
    return *this;
  }
};

}  // namespace assay::formats::test
