#pragma once
/// \file What the operators that check an instrument format's records (`ocmf_checks`,
/// `senml_checks`) share: the per-partition state that wraps the format checker's state with
/// its versioned snapshot, and the walk over the selected rows one input record at a time.

#include <cstddef>
#include <span>
#include <vector>

#include "engine/batch.hpp"
#include "engine/operator.hpp"

namespace assay::operators {

/// Per-partition state of a format checker: `S` (formats::OcmfCheckState,
/// formats::SenmlReplayState, ...) with snapshot()/restore()/clear() and an entry count
/// (`Count`), each entry taking about `kBytesPerEntry` bytes. Durable entry by entry
/// (docs/state.md): `S` records the keys its checker changed (clear_changed() before each
/// batch, for_each_changed() after it, one-key snapshots in its own format) and merges such an
/// entry back (merge(), within the checker's limit on keys).
template <class S, size_t (S::*Count)() const, size_t kBytesPerEntry>
class FormatCheckState final : public engine::OperatorState {
 public:
  /// A state that holds at most `max_entries` keys (the checker's limit, for merge_entry()).
  explicit FormatCheckState(size_t max_entries) : max_entries_(max_entries) {}
  /// The checker's state.
  S state;
  /// The checker's state for process() at the start of a batch: forgets which keys the
  /// previous batch changed, so that changed_entries() reports this batch's alone.
  S& begin_batch() {
    state.clear_changed();
    return state;
  }
  /// Durable entry by entry: one entry per key (a one-key snapshot of `S`).
  bool durable() const override { return true; }
  /// The keys the last batch changed (whatever `rows` are: the state knows them), in key order.
  void changed_entries(const engine::Batch& /*batch*/, std::span<const uint32_t> /*rows*/,
                       const engine::StateEntryFn& fn) const override {
    state.for_each_changed(fn);
  }
  /// Inserts or replaces the entry's key; false (state unchanged) if malformed, or if the key
  /// is new and the state holds `max_entries` keys already.
  bool merge_entry(std::span<const uint8_t> entry) override {
    return state.merge(entry, max_entries_);
  }
  std::vector<uint8_t> snapshot() const override { return state.snapshot(); }
  bool restore(std::span<const uint8_t> bytes) override {
    if (bytes.empty()) {
      state.clear();
      return true;
    }
    return state.restore(bytes);
  }
  size_t memory_bytes() const override { return (state.*Count)() * kBytesPerEntry; }

 private:
  size_t max_entries_;
};

/// Calls `fn(frame, begin, end)` for each run of selected rows (`batch.sel[begin..end)`) that
/// belong to one input record, in selection order.
template <class Fn>
void for_each_selected_record(const engine::Batch& batch, Fn&& fn) {
  size_t i = 0;
  while (i < batch.sel.size()) {
    const uint32_t f = batch.row_frame[batch.sel[i]];
    size_t end = i;
    while (end < batch.sel.size() && batch.row_frame[batch.sel[end]] == f) ++end;
    fn(f, i, end);
    i = end;
  }
}

}  // namespace assay::operators
