#pragma once
/// \file Operator `anomaly`: per-sensor checks of the reading stream. Flags (wire::AnomalyFlag
/// bits in Batch::row_anomaly): replay (seq not greater than the last accepted), gap (seq
/// skipped), clock skew (sensor time vs. record time), future timestamp, outside the physical
/// range, spike (Hampel filter), stuck value (N identical readings), rate limited (GCRA per
/// sensor, on the record time). "Now" is the frame's record time (Frame::record_time_ns, the
/// Kafka timestamp), never the wall clock: without one (file input) the clock checks are off
/// and the rate limit counts in sensor time, so reprocessing gives the same verdicts. Which flags reject the row is configurable; the others are kept on the
/// trusted record. NaN/infinite values are rejected (reading.value_not_finite) and never enter
/// any statistic. See docs/drift-anomaly.md.

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "registries/identity_store.hpp"
#include "engine/operator.hpp"
#include "operators/sensor_table.hpp"

namespace assay::operators {

/// Largest Hampel window.
inline constexpr int kMaxSpikeWindow = 9;

/// Configuration of `anomaly`.
struct AnomalyConfig {
  /// The live identity registry for the physical ranges (SensorInfo.range_min/max); may be null.
  std::shared_ptr<const registries::IdentityStore> identity;
  /// Range for sensors without one in the registry (NaN = none).
  double default_min = std::nan(""), default_max = std::nan("");
  /// A forward jump of seq larger than this is suspect: rejected as anomaly.gap without
  /// advancing the sequence state until `resync` consecutive readings confirm the new base.
  uint64_t max_gap = 1'000'000;
  uint32_t resync = 3;
  int64_t clock_skew_tolerance_ns = 300'000'000'000;  ///< |sensor time - record time| (5 min)
  int64_t future_tolerance_ns = 60'000'000'000;       ///< sensor time ahead of record time (1 min)
  int spike_window = 7;          ///< Hampel window (previous measurements), 3..9
  double spike_threshold = 3.5;  ///< |x - median| > t * scale
  /// Scale floor: scale = max(1.4826 * MAD, spike_min_sigma * std_uncertainty).
  double spike_min_sigma = 1.0;
  uint32_t stuck_count = 10;  ///< N identical consecutive values
  double rate = 100;          ///< readings/s per sensor (0 = no rate limit)
  double burst = 200;         ///< bucket size (readings)
  /// wire::AnomalyFlag bits that reject the row.
  uint32_t reject_mask = 0;
};

/// Per-sensor state of `anomaly` (88 bytes).
struct AnomalySensor {
  uint64_t last_seq = 0;     ///< last accepted seq
  uint64_t pending_seq = 0;  ///< last seq of a suspect jump being confirmed
  int64_t tat_ns = 0;        ///< rate limit: theoretical arrival time (GCRA), record-time ns
  double last_value = 0;     ///< last measurement value (stuck detection)
  double anchor = 0;         ///< window values are stored as float(x - anchor)
  std::array<float, kMaxSpikeWindow> window{};
  uint32_t range = UINT32_MAX;  ///< index into the range table; UINT32_MAX = not looked up
  uint16_t stuck_run = 0;
  uint8_t win_count = 0, win_pos = 0;
  uint8_t pending_run = 0;  ///< consecutive readings confirming pending_seq
  uint8_t has_seq = 0;      ///< 1 once a seq was accepted
  uint8_t has_value = 0;    ///< 1 once a measurement value was seen
};

/// Per-partition state of `anomaly`.
class AnomalyState final : public engine::OperatorState {
 public:
  explicit AnomalyState(int window) : window_(window) {}
  std::vector<uint8_t> snapshot() const override;
  bool restore(std::span<const uint8_t> bytes) override;
  /// Durable entry by entry: one entry per sensor (a one-sensor snapshot()).
  bool durable() const override { return true; }
  void changed_entries(const engine::Batch& batch, std::span<const uint32_t> rows,
                       const engine::StateEntryFn& fn) const override;
  bool merge_entry(std::span<const uint8_t> entry) override;
  size_t memory_bytes() const override { return table.memory_bytes(); }
  SensorTable<AnomalySensor> table;
  /// Identity registry generation the cached range indexes were looked up in (not persisted).
  uint64_t identity_generation = 0;

 private:
  int window_;
};

/// The anomaly operator (stateful).
class Anomaly final : public engine::Operator {
 public:
  explicit Anomaly(AnomalyConfig config);
  std::string_view type() const override { return "anomaly"; }
  bool stateful() const override { return true; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override;
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;
  const AnomalyConfig& config() const { return config_; }

  /// Builds from YAML (see docs/config-reference.md, `anomaly`).
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  /// Index of the sensor's physical range in ranges_ (looked up once per sensor and state, and
  /// again after the identity registry changed).
  uint32_t range_index(const registries::IdentityRegistry* registry, std::string_view sensor_id) const;
  static constexpr uint32_t kMaxRanges = 4096;
  const AnomalyConfig config_;
  /// Distinct physical ranges: [0] = the default (NaN = none). Fixed capacity so that an
  /// element never moves: indices handed out under range_mu_ are read without the lock.
  std::unique_ptr<std::pair<double, double>[]> ranges_;
  mutable std::mutex range_mu_;
  mutable uint32_t range_count_ = 1;
  mutable std::map<std::pair<double, double>, uint32_t> range_ids_;
};

}  // namespace assay::operators
