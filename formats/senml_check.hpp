#pragma once
/// \file Replay protection for SenML, which has no sequence number (docs/senml-cose.md):
///
///  1. Every accepted time is absolute: the parser refuses relative times (< 2^28 s).
///  2. Per sensor (resolved name), resolved times must strictly increase, across packs and
///     within a pack: a record whose time is not above the last accepted time of its sensor is
///     a replay (or a duplicate, or a clock that went back).
///  3. A pack is one signed unit, checked atomically: if any record is a replay the whole pack
///     is rejected (senml.replay) and the state is left as it was; otherwise every record
///     advances its sensor's time.
///  4. State is keyed by sensor name, not by key id, so a key rotation does not reopen a
///     window for replays.
///
/// Like the OCMF checker, an immutable configured checker plus an explicit state owned by the
/// caller (one per partition in the engine) with a versioned snapshot. Feed only packs whose
/// signature or MAC verified, in their order.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/senml.hpp"
#include "formats/state_codec.hpp"

namespace assay::formats {

/// Outcome of a replay check. Stable string forms: senml_check_name().
enum class SenmlCheck : uint8_t {
  kOk = 0,
  kReplay,     ///< "senml.replay": a record's time is not above its sensor's last time
  kStateFull,  ///< "senml.state_full": more sensors than the limit (pack not checked)
};

/// The stable reason code, e.g. "senml.replay".
std::string_view senml_check_name(SenmlCheck c);

/// Result for one pack.
struct SenmlCheckResult {
  SenmlCheck check = SenmlCheck::kOk;  ///< first finding
  uint32_t record = 0;                 ///< index of the first offending record
  /// True if the pack passed.
  bool ok() const { return check == SenmlCheck::kOk; }
};

/// Limits of the replay state.
struct SenmlCheckConfig {
  size_t max_sensors = 1u << 20;  ///< sensors remembered in one state
};

/// Last accepted time per sensor.
class SenmlReplayState {
 public:
  /// Number of sensors known.
  size_t sensor_count() const { return last_.size(); }
  /// Last accepted time of `name` (UTC ns), or nullptr.
  const int64_t* last_time(std::string_view name) const;
  /// Forgets everything.
  void clear() {
    last_.clear();
    changed_.clear();
  }
  /// Versioned snapshot (magic "ASNR", version 1), sorted by name: deterministic.
  std::vector<uint8_t> snapshot() const;
  /// Replaces the state with a snapshot; false (state unchanged) if malformed.
  bool restore(std::span<const uint8_t> bytes);

  /// Called with one durable entry: a sensor name and the snapshot of that sensor alone.
  using EntryFn = std::function<void(std::string_view name, std::span<const uint8_t> entry)>;
  /// Calls `fn` once per sensor whose time check() set since the last clear_changed() (or
  /// clear() / restore()), in name order, with a snapshot() holding that sensor alone (count
  /// 1: an ordinary "ASNR" snapshot, so restore() reads it too). Does not forget them.
  void for_each_changed(const EntryFn& fn) const;
  /// Forgets which sensors changed (the engine calls it before each batch).
  void clear_changed() { changed_.clear(); }
  /// Merges an entry of for_each_changed(): sets its sensor's time, inserting the sensor if
  /// it is new. False, with the state unchanged, if `entry` is not a one-sensor "ASNR"
  /// snapshot, or if the sensor is new and the state holds `max_sensors` already.
  bool merge(std::span<const uint8_t> entry, size_t max_sensors);

 private:
  friend class SenmlReplayChecker;
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> last_;
  ChangedKeys changed_;  // sensors whose time check() set since clear_changed()
};

/// The replay check (immutable, shareable across threads; the state is not).
class SenmlReplayChecker {
 public:
  /// A checker with the given limits.
  explicit SenmlReplayChecker(SenmlCheckConfig config = {}) : config_(config) {}
  /// Checks `pack` against `state`; on success advances the state, on failure leaves it.
  SenmlCheckResult check(SenmlReplayState& state, const SenmlPack& pack) const;
  /// The configuration.
  const SenmlCheckConfig& config() const { return config_; }

 private:
  SenmlCheckConfig config_;
};

}  // namespace assay::formats
