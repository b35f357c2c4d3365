#pragma once
/// \file The one place where input progress is tracked. Each input frame is registered with
/// the number of outputs derived from it; a frame is done when every output was acknowledged
/// by its sink. The committable position of a partition is the offset after the longest
/// prefix of done frames, so commits are contiguous and never pass an unfinished record
/// (filtered records still produce a `rejected` output, so they never leave holes).

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <span>

#include "engine/types.hpp"

namespace assay::engine {

/// Tracks outstanding outputs per input frame; thread-safe.
class OffsetTracker {
 public:
  /// Registers a frame at (partition, offset) with `outputs` pending acknowledgements and
  /// returns the token to pass with each of its outputs. Frames of one partition must be
  /// registered in offset order.
  uint64_t register_frame(Partition partition, Offset offset, uint32_t outputs);
  /// register_frame for a batch of frames of one partition under one lock: tokens[i] is the
  /// token of (offsets[i], outputs[i]).
  void register_frames(Partition partition, std::span<const Offset> offsets,
                       std::span<const uint32_t> outputs, std::span<uint64_t> tokens);
  /// Acknowledges one output of the frame `token`. `ok` = false marks the frame failed:
  /// the partition's committable position then never moves past it.
  void ack(uint64_t token, bool ok);
  /// Next offset to commit for `partition` (one past the last contiguous done frame), if it
  /// advanced since the last call.
  std::optional<Offset> take_committable(Partition partition);
  /// Current committable offset (without consuming it).
  std::optional<Offset> committable(Partition partition) const;
  /// Frames registered but not yet done (all partitions).
  uint64_t pending() const;
  /// True if an output failed (the engine must stop consuming).
  bool failed() const;
  /// Forgets a partition (after it was revoked); pending frames of it are dropped.
  void drop_partition(Partition partition);

 private:
  struct Entry {
    int64_t offset;
    uint32_t remaining;
    bool failed;
  };
  struct Part {
    std::deque<Entry> entries;
    uint64_t base_seq = 0;  ///< sequence number of entries.front()
    std::optional<int64_t> done_through;  ///< last offset of the done prefix
    bool changed = false;
    uint32_t slot = 0;
  };
  static constexpr int kSeqBits = 40;
  Part& part(Partition p);
  uint64_t register_locked(Part& p, Offset offset, uint32_t outputs);
  void advance(Part& p);

  mutable std::mutex mu_;
  std::map<int32_t, Part> parts_;
  std::map<uint32_t, int32_t> slot_to_partition_;
  uint32_t next_slot_ = 0;
  uint64_t pending_ = 0;
  bool failed_ = false;
};

}  // namespace assay::engine
