#include "engine/batch.hpp"

#include <algorithm>

#include "schemas/reading_generated.h"

namespace assay::engine {

std::string_view route_name(Route r) {
  switch (r) {
    case Route::kTrusted: return "trusted";
    case Route::kRejected: return "rejected";
    case Route::kAlerts: return "alerts";
    case Route::kAttestations: return "attestations";
    case Route::kVerifications: return "verifications";
  }
  return "unknown";
}

uint32_t Batch::add_row(uint32_t f, uint32_t i, const wire::Reading* reading) {
  const uint32_t r = static_cast<uint32_t>(row_frame.size());
  for_each_row_column([](auto& column) { column.emplace_back(); });  // neutral verdicts
  row_frame.back() = f;
  row_index.back() = i;
  row_reading.back() = reading;
  sel.push_back(r);
  return r;
}

std::span<const PrivacyEdit> Batch::privacy_of_frame(uint32_t f) const {
  if (privacy.empty()) return {};
  auto lo = std::lower_bound(privacy.begin(), privacy.end(), f,
                             [](const PrivacyEdit& e, uint32_t v) { return e.frame < v; });
  auto hi = std::upper_bound(lo, privacy.end(), f,
                             [](uint32_t v, const PrivacyEdit& e) { return v < e.frame; });
  return {lo, hi};
}

std::string_view Batch::row_key(uint32_t r) const {
  for (const PrivacyEdit& e : privacy_of_frame(row_frame[r]))
    if (e.row == r && e.attr == UINT32_MAX) return {e.pseudonym.data(), e.pseudonym.size()};
  return row_reading[r] != nullptr ? row_reading[r]->sensor_id()->string_view()
                                   : std::string_view();
}

void Batch::compact_selection() {
  sel.erase(std::remove_if(sel.begin(), sel.end(),
                           [this](uint32_t r) { return row_reject[r] != RejectCode::kNone; }),
            sel.end());
}

void Batch::clear() {
  arena.clear();
  frames.clear();
  aux.clear();
  built.clear();
  topic.clear();
  for_each_row_column([](auto& column) { column.clear(); });
  sel.clear();
  privacy.clear();
  alerts.clear();
  side_records.clear();
  out_arena.clear();
  outputs.clear();
  state_out.clear();
  state_arena.clear();
}

}  // namespace assay::engine
