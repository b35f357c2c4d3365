#pragma once
/// \file Binary snapshots of stateful checkers: the formats' checkers and the stateful operators
/// (anomaly, drift) share this one layout and codec:
///   magic (4 bytes) | version (u16) | param (u16) | count (u64) | entries... | FNV-1a-64 (u64)
/// little-endian. Readers check every length against the bytes left, so a truncated or
/// corrupted snapshot is refused and never read out of bounds.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace assay::formats {

/// FNV-1a 64 (integrity check of a snapshot, not a security measure).
inline uint64_t snapshot_fnv1a64(std::span<const uint8_t> bytes) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ULL;
  return h;
}

static_assert(std::endian::native == std::endian::little, "snapshots assume little-endian");

/// Appends fixed-width little-endian fields.
class SnapshotWriter {
 public:
  /// Writes the header.
  SnapshotWriter(const char magic[4], uint16_t version, uint16_t param, uint64_t count) {
    out_.insert(out_.end(), magic, magic + 4);
    put(version);
    put(param);
    put(count);
  }
  /// A trivially copyable value, little-endian.
  template <typename V>
  void put(V v) {
    static_assert(std::is_trivially_copyable_v<V>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out_.insert(out_.end(), p, p + sizeof(V));
  }
  /// A length-prefixed (u32) string.
  void put_string(std::string_view s) {
    put(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  /// Appends the checksum and returns the bytes.
  std::vector<uint8_t> finish() {
    put(snapshot_fnv1a64(out_));
    return std::move(out_);
  }

 private:
  std::vector<uint8_t> out_;
};

/// Reads what SnapshotWriter wrote; every call fails (returns false) past the end.
class SnapshotReader {
 public:
  /// Checks size, checksum, magic and version.
  bool open(std::span<const uint8_t> bytes, const char magic[4], uint16_t version, uint16_t* param,
            uint64_t* count) {
    if (bytes.size() < 4 + 2 + 2 + 8 + 8) return false;
    const auto body = bytes.first(bytes.size() - 8);
    uint64_t stored;
    std::memcpy(&stored, bytes.data() + body.size(), 8);
    if (stored != snapshot_fnv1a64(body) || std::memcmp(body.data(), magic, 4) != 0) return false;
    data_ = body;
    pos_ = 4;
    uint16_t v = 0;
    return get(v) && v == version && get(*param) && get(*count);
  }
  /// A trivially copyable value.
  template <typename V>
  bool get(V& v) {
    if (data_.size() - pos_ < sizeof(V)) return false;
    std::memcpy(&v, data_.data() + pos_, sizeof(V));
    pos_ += sizeof(V);
    return true;
  }
  /// A finite floating-point value.
  template <typename V>
  bool get_finite(V& v) {
    return get(v) && std::isfinite(v);
  }
  /// A length-prefixed string of at most max_len bytes (a view into the snapshot).
  bool get_string(std::string_view& s, size_t max_len) {
    uint32_t n = 0;
    if (!get(n) || n > max_len || data_.size() - pos_ < n) return false;
    s = {reinterpret_cast<const char*>(data_.data() + pos_), n};
    pos_ += n;
    return true;
  }
  /// True when every byte was consumed.
  bool at_end() const { return pos_ == data_.size(); }
  /// Bytes left (to bound a count before looping).
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

/// The keys of a checker state's map (std::string keys of a node-based map, whose addresses
/// stay valid until the key is erased) that the checker changed since clear(): what a durable
/// state writes after a batch. Repeats are dropped when read; a list that outgrows the map is
/// compacted, so one that nobody clears stays bounded by the number of keys.
class ChangedKeys {
 public:
  /// Records that `key` (a key of a map of `map_size` entries) changed.
  void add(const std::string& key, size_t map_size) {
    if (!keys_.empty() && keys_.back() == &key) return;
    keys_.push_back(&key);
    if (keys_.size() > 2 * map_size + 16) {
      std::sort(keys_.begin(), keys_.end());
      keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
    }
  }
  /// The changed keys, each once, in byte order of the keys.
  std::vector<const std::string*> sorted() const {
    std::vector<const std::string*> out = keys_;
    std::sort(out.begin(), out.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  /// Forgets them (also whenever the map's keys are erased).
  void clear() { keys_.clear(); }

 private:
  std::vector<const std::string*> keys_;
};

/// Transparent string hash, so that maps keyed by std::string are searched with string_views
/// without building a std::string.
struct StringHash {
  using is_transparent = void;  ///< enables heterogeneous lookup
  /// Hash of the text.
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace assay::formats
