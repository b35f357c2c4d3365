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
/// (`Count`), each entry taking about `kBytesPerEntry` bytes.
template <class S, size_t (S::*Count)() const, size_t kBytesPerEntry>
class FormatCheckState final : public engine::OperatorState {
 public:
  /// The checker's state.
  S state;
  std::vector<uint8_t> snapshot() const override { return state.snapshot(); }
  bool restore(std::span<const uint8_t> bytes) override {
    if (bytes.empty()) {
      state.clear();
      return true;
    }
    return state.restore(bytes);
  }
  size_t memory_bytes() const override { return (state.*Count)() * kBytesPerEntry; }
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
