#pragma once
/// \file A compact per-sensor state table for stateful operators (drift, anomaly): an
/// open-addressing hash index (linear probing, 8-byte slots: 32-bit hash tag + 32-bit entry
/// number) over values (each with its id reference) stored densely in fixed chunks of 4096
/// entries, and the sensor ids
/// interned once in 64 KiB key chunks. No per-entry heap allocation and no std::string per
/// sensor: at 1M sensors the overhead is about 17 bytes of index + 4 bytes of key reference
/// + the id's length + 1 per sensor (see docs/drift-anomaly.md for the measured numbers).
/// Not thread-safe: a table belongs to one partition's OperatorState.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "engine/batch.hpp"
#include "schemas/reading_generated.h"

namespace assay::operators {

/// Seeded 64-bit hash of a sensor id (multiply-xorshift over 8-byte words). The seed is
/// random per process so that chosen ids cannot be aimed at one probe sequence in advance.
uint64_t sensor_id_hash(std::string_view id);

/// Interned sensor ids in 64 KiB chunks. A reference is chunk << 16 | offset; an id longer
/// than kLongKey gets a chunk of its own (offset 0).
class KeyArena {
 public:
  static constexpr size_t kChunk = 64 * 1024;
  static constexpr size_t kLongKey = 16 * 1024;
  static constexpr uint32_t kNone = UINT32_MAX;
  /// Stores `id`; kNone if the arena is full (65535 chunks).
  uint32_t add(std::string_view id);
  /// Address of the stored id (for prefetching; nothing is read).
  const uint8_t* ptr(uint32_t ref) const { return chunks_[ref >> 16].data.get() + (ref & 0xFFFF); }
  /// The id stored at `ref`.
  std::string_view get(uint32_t ref) const {
    const Chunk& c = chunks_[ref >> 16];
    const uint8_t* p = c.data.get() + (ref & 0xFFFF);
    uint32_t len = p[0];
    size_t hdr = 1;
    if (len == 0xFF) {
      std::memcpy(&len, p + 1, 4);
      hdr = 5;
    }
    return {reinterpret_cast<const char*>(p + hdr), len};
  }
  /// Heap bytes held.
  size_t memory_bytes() const {
    size_t n = chunks_.capacity() * sizeof(Chunk);
    for (const Chunk& c : chunks_) n += c.size;
    return n;
  }
  void clear() {
    chunks_.clear();
    used_ = kChunk;
  }

 private:
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
  };
  std::vector<Chunk> chunks_;
  size_t used_ = kChunk;  ///< bytes used in the last regular chunk
  bool last_is_long_ = false;
};

/// Sensor id -> T. T must be default-constructible and trivially copyable.
template <typename T>
class SensorTable {
 public:
  static constexpr size_t kChunkEntries = 4096;

  /// Prefetches the index slot of hash `h` (call some rows ahead of the lookup).
  void prefetch_slot(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  /// Prefetches the entry (value and id reference) of hash `h` if its home slot holds it
  /// (after prefetch_slot).
  void prefetch_entry(uint64_t h) const {
    if (const Entry* en = home_entry(h)) {
      __builtin_prefetch(en);
      if constexpr (sizeof(Entry) > 64)
        __builtin_prefetch(reinterpret_cast<const char*>(en) + sizeof(Entry) - 1);
    }
  }
  /// Prefetches the interned id of hash `h`'s home entry (after prefetch_entry).
  void prefetch_key(uint64_t h) const {
    if (const Entry* en = home_entry(h)) __builtin_prefetch(keys_.ptr(en->key));
  }
  /// The value for `id`, or nullptr.
  T* find(std::string_view id) { return find(id, sensor_id_hash(id)); }
  /// Read-only lookup of `id`, or nullptr.
  const T* find(std::string_view id) const {
    return const_cast<SensorTable*>(this)->find(id, sensor_id_hash(id));
  }
  /// The value for `id` whose sensor_id_hash is `h`, or nullptr.
  T* find(std::string_view id, uint64_t h) {
    if (size_ == 0) return nullptr;
    const uint64_t tag = h >> 32;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s >> 32) == tag) {
        const uint32_t e = static_cast<uint32_t>(s) - 1;
        if (keys_.get(key_ref(e)) == id) return &value(e);
      }
    }
  }
  /// The value for `id`, inserted value-initialised if absent; nullptr only if the table is
  /// full (2^32 - 2 entries or the key arena is exhausted). `inserted` tells which.
  T* find_or_insert(std::string_view id, bool* inserted = nullptr) {
    return find_or_insert(id, sensor_id_hash(id), inserted);
  }
  /// find_or_insert with the id's sensor_id_hash `h` computed by the caller.
  T* find_or_insert(std::string_view id, uint64_t h, bool* inserted = nullptr) {
    if (inserted) *inserted = false;
    if (T* v = find(id, h)) return v;
    if (size_ >= UINT32_MAX - 2) return nullptr;
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    const uint32_t ref = keys_.add(id);
    if (ref == KeyArena::kNone) return nullptr;
    const uint32_t e = static_cast<uint32_t>(size_);
    if (e % kChunkEntries == 0) chunks_.push_back(std::make_unique<Chunk>());
    key_ref(e) = ref;
    value(e) = T{};
    ++size_;
    place(h, e);
    if (inserted) *inserted = true;
    return &value(e);
  }
  /// Number of sensors.
  size_t size() const { return size_; }
  /// Heap bytes held by the index, the values and the interned ids.
  size_t memory_bytes() const {
    return slots_.capacity() * sizeof(uint64_t) + chunks_.capacity() * sizeof(void*) +
           chunks_.size() * sizeof(Chunk) + keys_.memory_bytes();
  }
  /// Calls f(id, value) for every entry in insertion order.
  template <typename F>
  void for_each(F&& f) const {
    for (size_t e = 0; e < size_; ++e) {
      const Entry& en = chunks_[e / kChunkEntries]->entries[e % kChunkEntries];
      f(keys_.get(en.key), en.value);
    }
  }
  /// Calls f(value) for every entry, which it may change (not the id).
  template <typename F>
  void for_each_value(F&& f) {
    for (size_t e = 0; e < size_; ++e) f(chunks_[e / kChunkEntries]->entries[e % kChunkEntries].value);
  }
  /// Exchanges the contents with `other`.
  void swap(SensorTable& other) noexcept {
    std::swap(slots_, other.slots_);
    std::swap(mask_, other.mask_);
    std::swap(size_, other.size_);
    std::swap(chunks_, other.chunks_);
    std::swap(keys_, other.keys_);
  }

 private:
  struct Entry {
    T value;
    uint32_t key;  ///< KeyArena reference of the id
  };
  struct Chunk {
    std::array<Entry, kChunkEntries> entries{};
  };
  const Entry* home_entry(uint64_t h) const {
    if (slots_.empty()) return nullptr;
    const uint64_t s = slots_[h & mask_];
    if (s == 0 || (s >> 32) != (h >> 32)) return nullptr;
    const uint32_t e = static_cast<uint32_t>(s) - 1;
    return &chunks_[e / kChunkEntries]->entries[e % kChunkEntries];
  }
  uint32_t& key_ref(uint32_t e) {
    return chunks_[e / kChunkEntries]->entries[e % kChunkEntries].key;
  }
  T& value(uint32_t e) { return chunks_[e / kChunkEntries]->entries[e % kChunkEntries].value; }
  void place(uint64_t h, uint32_t e) {
    size_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = (h >> 32) << 32 | (uint64_t{e} + 1);
  }
  void grow() {
    const size_t cap = slots_.empty() ? 64 : slots_.size() * 2;
    std::vector<uint64_t>().swap(slots_);
    slots_.assign(cap, 0);
    mask_ = cap - 1;
    for (size_t e = 0; e < size_; ++e)
      place(sensor_id_hash(keys_.get(key_ref(static_cast<uint32_t>(e)))), static_cast<uint32_t>(e));
  }

  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  KeyArena keys_;
};

/// Hashes of the sensor ids of the batch's selected rows, in selection order (0 for a row
/// without a reading), for prefetching lookups ahead.
inline void hash_selected_sensors(const engine::Batch& b, std::vector<uint64_t>& out) {
  out.resize(b.sel.size());
  for (size_t j = 0; j < b.sel.size(); ++j) {
    const wire::Reading* rd = b.row_reading[b.sel[j]];
    out[j] = rd != nullptr && rd->sensor_id() != nullptr
                 ? sensor_id_hash(rd->sensor_id()->string_view())
                 : 0;
  }
}

/// Calls `fn(id)` once for each distinct sensor id of the rows `rows` of `b` (the sensors whose
/// state a batch may have changed: durable state, docs/state.md), in id order.
template <class Fn>
void for_each_distinct_sensor(const engine::Batch& b, std::span<const uint32_t> rows, Fn&& fn) {
  thread_local std::vector<std::string_view> ids;
  ids.clear();
  for (uint32_t r : rows) {
    const wire::Reading* rd = b.row_reading[r];
    if (rd != nullptr && rd->sensor_id() != nullptr) ids.push_back(rd->sensor_id()->string_view());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (std::string_view id : ids) fn(id);
}

/// Lookahead distances for SensorTable prefetching (rows ahead of the one processed).
inline constexpr size_t kPrefetchSlot = 24, kPrefetchEntry = 16, kPrefetchKey = 8;

/// Prefetches what the lookups of the rows kPrefetch* ahead of row `j` will touch.
template <typename T>
void prefetch_ahead(const SensorTable<T>& table, std::span<const uint64_t> hashes, size_t j) {
  const size_t rows = hashes.size();
  if (j + kPrefetchSlot < rows) table.prefetch_slot(hashes[j + kPrefetchSlot]);
  if (j + kPrefetchEntry < rows) table.prefetch_entry(hashes[j + kPrefetchEntry]);
  if (j + kPrefetchKey < rows) table.prefetch_key(hashes[j + kPrefetchKey]);
}

}  // namespace assay::operators
