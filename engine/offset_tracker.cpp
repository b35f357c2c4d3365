#include "engine/offset_tracker.hpp"

namespace assay::engine {

OffsetTracker::Part& OffsetTracker::part(Partition p) {
  auto [it, inserted] = parts_.try_emplace(p.value());
  if (inserted) {
    it->second.slot = next_slot_++;
    slot_to_partition_[it->second.slot] = p.value();
  }
  return it->second;
}

uint64_t OffsetTracker::register_frame(Partition partition, Offset offset, uint32_t outputs) {
  std::lock_guard<std::mutex> lock(mu_);
  return register_locked(part(partition), offset, outputs);
}

void OffsetTracker::register_frames(Partition partition, std::span<const Offset> offsets,
                                    std::span<const uint32_t> outputs, std::span<uint64_t> tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  Part& p = part(partition);
  for (size_t i = 0; i < offsets.size(); ++i) tokens[i] = register_locked(p, offsets[i], outputs[i]);
}

uint64_t OffsetTracker::register_locked(Part& p, Offset offset, uint32_t outputs) {
  const uint64_t seq = p.base_seq + p.entries.size();
  p.entries.push_back(Entry{offset.value(), outputs, false});
  ++pending_;
  if (outputs == 0) advance(p);
  return (static_cast<uint64_t>(p.slot) << kSeqBits) | (seq & ((uint64_t{1} << kSeqBits) - 1));
}

void OffsetTracker::advance(Part& p) {
  while (!p.entries.empty() && p.entries.front().remaining == 0 && !p.entries.front().failed) {
    p.done_through = p.entries.front().offset;
    p.entries.pop_front();
    ++p.base_seq;
    --pending_;
    p.changed = true;
  }
}

void OffsetTracker::ack(uint64_t token, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint32_t slot = static_cast<uint32_t>(token >> kSeqBits);
  const uint64_t seq = token & ((uint64_t{1} << kSeqBits) - 1);
  auto sit = slot_to_partition_.find(slot);
  if (sit == slot_to_partition_.end()) return;  // partition dropped
  auto pit = parts_.find(sit->second);
  if (pit == parts_.end()) return;
  Part& p = pit->second;
  if (seq < p.base_seq || seq >= p.base_seq + p.entries.size()) return;
  Entry& e = p.entries[seq - p.base_seq];
  if (!ok) {
    e.failed = true;
    failed_ = true;
  }
  if (e.remaining > 0) --e.remaining;
  advance(p);
}

std::optional<Offset> OffsetTracker::take_committable(Partition partition) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(partition.value());
  if (it == parts_.end() || !it->second.changed || !it->second.done_through) return std::nullopt;
  it->second.changed = false;
  return Offset(*it->second.done_through + 1);
}

std::optional<Offset> OffsetTracker::committable(Partition partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(partition.value());
  if (it == parts_.end() || !it->second.done_through) return std::nullopt;
  return Offset(*it->second.done_through + 1);
}

uint64_t OffsetTracker::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

bool OffsetTracker::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void OffsetTracker::drop_partition(Partition partition) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(partition.value());
  if (it == parts_.end()) return;
  pending_ -= it->second.entries.size();
  slot_to_partition_.erase(it->second.slot);
  parts_.erase(it);
}

}  // namespace assay::engine
