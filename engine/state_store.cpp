#include "engine/state_store.hpp"

#include <cstring>

namespace assay::engine {

namespace {

constexpr char kMagic[4] = {'A', 'S', 'S', 'T'};

uint64_t fnv1a64(std::span<const uint8_t> bytes) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ULL;
  return h;
}

template <class V>
void put(std::vector<uint8_t>& out, V v) {
  uint8_t b[sizeof(V)];
  std::memcpy(b, &v, sizeof(V));
  out.insert(out.end(), b, b + sizeof(V));
}

// Sequential little-endian reads that fail past the end.
struct Reader {
  std::span<const uint8_t> data;
  size_t pos = 0;
  template <class V>
  bool get(V& v) {
    if (data.size() - pos < sizeof(V)) return false;
    std::memcpy(&v, data.data() + pos, sizeof(V));
    pos += sizeof(V);
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>* out) {
    if (data.size() - pos < n) return false;
    *out = data.subspan(pos, n);
    pos += n;
    return true;
  }
};

std::string_view as_text(std::span<const uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

}  // namespace

void encode_state_record(std::string_view op_type, std::string_view key, int64_t input_offset,
                         std::span<const uint8_t> entry, std::vector<uint8_t>& out) {
  const size_t start = out.size();
  out.insert(out.end(), kMagic, kMagic + 4);
  put<uint16_t>(out, kStateRecordVersion);
  const size_t tn = std::min<size_t>(op_type.size(), 255);
  put<uint8_t>(out, static_cast<uint8_t>(tn));
  out.insert(out.end(), op_type.begin(), op_type.begin() + static_cast<ptrdiff_t>(tn));
  put<int64_t>(out, input_offset);
  put<uint32_t>(out, static_cast<uint32_t>(key.size()));
  out.insert(out.end(), key.begin(), key.end());
  put<uint32_t>(out, static_cast<uint32_t>(entry.size()));
  out.insert(out.end(), entry.begin(), entry.end());
  put<uint64_t>(out, fnv1a64({out.data() + start, out.size() - start}));
}

bool decode_state_record(std::span<const uint8_t> bytes, StateRecord* out, std::string* reason) {
  if (bytes.size() < 4 + 2 + 1 + 8 + 4 + 4 + 8) {
    *reason = "truncated state record (" + std::to_string(bytes.size()) + " bytes)";
    return false;
  }
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) {
    *reason = "not a state record (bad magic)";
    return false;
  }
  const auto body = bytes.first(bytes.size() - 8);
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + body.size(), 8);
  Reader rd{body, 4};
  uint16_t version = 0;
  rd.get(version);
  if (version == 0 || version > kStateRecordVersion) {
    *reason = "state record version " + std::to_string(version) +
              " is not supported (this build reads versions 1.." +
              std::to_string(kStateRecordVersion) + ")";
    return false;
  }
  if (stored != fnv1a64(body)) {
    *reason = "state record checksum mismatch";
    return false;
  }
  uint8_t tn = 0;
  uint32_t kn = 0, en = 0;
  std::span<const uint8_t> type, key, entry;
  if (!rd.get(tn) || !rd.bytes(tn, &type) || !rd.get(out->input_offset) || !rd.get(kn) ||
      !rd.bytes(kn, &key) || !rd.get(en) || !rd.bytes(en, &entry) || rd.pos != body.size()) {
    *reason = "malformed state record (lengths do not match its size)";
    return false;
  }
  out->op_type = as_text(type);
  out->key = as_text(key);
  out->entry = entry;
  return true;
}

}  // namespace assay::engine
