#include "operators/sensor_table.hpp"

#include <random>

namespace assay::operators {

namespace {

uint64_t process_seed() {
  static const uint64_t seed = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd() ^ 0x9E3779B97F4A7C15ULL;
  }();
  return seed;
}

inline uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t sensor_id_hash(std::string_view id) {
  static const uint64_t seed = process_seed();
  uint64_t h = seed ^ (id.size() * 0x9E3779B97F4A7C15ULL);
  size_t i = 0;
  for (; i + 8 <= id.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, id.data() + i, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  if (i < id.size()) std::memcpy(&tail, id.data() + i, id.size() - i);
  h = (h ^ tail) * 0xC2B2AE3D27D4EB4FULL;
  return mix(h);
}

uint32_t KeyArena::add(std::string_view id) {
  const size_t hdr = id.size() < 0xFF ? 1 : 5;
  const size_t need = hdr + id.size();
  if (id.size() > UINT32_MAX - 5) return kNone;
  auto write = [&](uint8_t* p) {
    if (hdr == 1) {
      p[0] = static_cast<uint8_t>(id.size());
    } else {
      p[0] = 0xFF;
      const auto len = static_cast<uint32_t>(id.size());
      std::memcpy(p + 1, &len, 4);
    }
    if (!id.empty()) std::memcpy(p + hdr, id.data(), id.size());
  };
  if (id.size() > kLongKey) {
    if (chunks_.size() >= 0xFFFF) return kNone;
    Chunk c{std::make_unique<uint8_t[]>(need), need};
    write(c.data.get());
    chunks_.push_back(std::move(c));
    last_is_long_ = true;
    return static_cast<uint32_t>(chunks_.size() - 1) << 16;
  }
  if (last_is_long_ || used_ + need > kChunk) {
    if (chunks_.size() >= 0xFFFF) return kNone;
    chunks_.push_back(Chunk{std::make_unique<uint8_t[]>(kChunk), kChunk});
    used_ = 0;
    last_is_long_ = false;
  }
  const auto ref = static_cast<uint32_t>((chunks_.size() - 1) << 16 | used_);
  write(chunks_.back().data.get() + used_);
  used_ += need;
  return ref;
}

}  // namespace assay::operators
