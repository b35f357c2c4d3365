#pragma once
/// \file Operator `drift`: per-sensor drift detection against calibration tolerances.
/// Error sources: ReferenceCheck readings (e = corrected value - reference value, compared
/// with the MPE) and redundancy groups (e = value - robust median of the other members'
/// recent values, compared with the combined tolerance). The standardized error sequence
/// z = e / sigma feeds a two-sided tabular CUSUM, an EWMA and a Page-Hinkley test. Each of
/// the five detectors has a level ok / warning / alarm; the row gets the highest level and
/// that detector's statistic, and every level change raises an Alert. Uses the columns of
/// `calibration` when it ran (corrected value, expanded uncertainty, MPE) and falls back to
/// the raw value, the reading's std_uncertainty and configured defaults. See
/// docs/drift-anomaly.md.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "registries/identity_store.hpp"
#include "engine/operator.hpp"
#include "operators/drift_stats.hpp"
#include "operators/sensor_table.hpp"

namespace assay::operators {

/// Detectors of `drift` (index into DriftSensor::levels, 2 bits each).
enum class Detector : uint8_t {
  kCusum = 0,
  kEwma,
  kPageHinkley,
  kReferenceCheck,
  kRedundancy,
  kCount
};

/// Alert kind of a detector: "drift.cusum", "drift.ewma", "drift.page_hinkley",
/// "drift.reference_check", "drift.redundancy".
std::string_view detector_kind(Detector d);

/// Configuration of `drift`.
struct DriftConfig {
  /// The live identity registry whose `redundancy_group` fields define groups (may be null).
  std::shared_ptr<const registries::IdentityStore> identity;
  /// Inline groups: name -> member sensor ids (added to the registry's).
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  /// sigma of the error sequence: the combined standard uncertainty U/k from `calibration`
  /// (true) or always the reading's std_uncertainty (false).
  bool sigma_combined = true;
  double default_sigma = 0;       ///< sigma when the reading states none (0 = skip such rows)
  double mpe = 0;                 ///< absolute MPE when calibration gives none (0 = unset)
  double mpe_sigmas = 5;          ///< else MPE = mpe_sigmas * sigma
  double coverage_factor = 2;     ///< k for U = k * sigma when calibration gives no U
  double warning_fraction = 0.8;  ///< reference check: warning at |e| > fraction * MPE
  CusumParams cusum;
  EwmaParams ewma;
  PageHinkleyParams page_hinkley;
  bool use_cusum = true, use_ewma = true, use_page_hinkley = true;
  /// Longest mean interval between a member's values that is used for comparisons.
  int64_t group_max_age_ns = 10'000'000'000;
  uint32_t group_min_others = 2;     ///< other members needed for a comparison
  uint32_t group_persistence = 3;    ///< consecutive exceedances for an alarm (warning at one less)
  bool group_tolerance_mpe = false;  ///< tolerance = MPE of the member instead of the RSS of U
  /// wire::AnomalyFlag bits of rows that do not feed the statistics: by default every flag
  /// except gap.
  uint32_t skip_mask = static_cast<uint32_t>(wire::AnomalyFlag::ANY) &
                       ~static_cast<uint32_t>(wire::AnomalyFlag::Gap);
  bool reject_on_alarm = false;  ///< reject rows of sensors in alarm (drift.alarm)
};

/// Per-sensor state of `drift` (40 bytes).
struct DriftSensor {
  Cusum cusum;
  Ewma ewma;
  PageHinkley ph;
  int32_t member = -2;  ///< redundancy member index; -1 = none, -2 = not looked up
  uint16_t levels = 0;  ///< 2 bits per Detector (wire::DriftLevel)
  uint8_t red_run = 0;  ///< consecutive group-tolerance exceedances
  uint8_t reserved = 0;
  Level level(Detector d) const {
    return static_cast<Level>((levels >> (2 * static_cast<int>(d))) & 3);
  }
  void set_level(Detector d, Level l) {
    const int s = 2 * static_cast<int>(d);
    levels = static_cast<uint16_t>((levels & ~(3u << s)) | (static_cast<unsigned>(l) << s));
  }
};

class Drift;

/// Per-partition state of `drift`. A durable entry holds one sensor's detector state and, for
/// a redundancy-group member, its recent values as the group comparisons use them (entry
/// format v2; v1 entries, without them, are still read).
class DriftState final : public engine::OperatorState {
 public:
  /// The operator whose redundancy table the entries of group members read and restore.
  explicit DriftState(const Drift* owner = nullptr) : owner_(owner) {}
  /// Error observations (z values) fed to the sequential detectors so far (not persisted).
  uint64_t observations = 0;
  std::vector<uint8_t> snapshot() const override;
  bool restore(std::span<const uint8_t> bytes) override;
  /// Durable entry by entry: one entry per sensor (a one-sensor snapshot()).
  bool durable() const override { return true; }
  void changed_entries(const engine::Batch& batch, std::span<const uint32_t> rows,
                       const engine::StateEntryFn& fn) const override;
  bool merge_entry(std::span<const uint8_t> entry) override;
  size_t memory_bytes() const override { return table.memory_bytes(); }
  SensorTable<DriftSensor> table;
  /// Group-table generation the cached member indexes belong to (not persisted).
  uint64_t groups_generation = 0;

 private:
  const Drift* owner_;
};

/// Redundancy groups as the identity registry (plus the inline `groups`) defines them at one
/// registry generation. Immutable once built.
struct GroupTable {
  uint64_t generation = 0;                ///< identity registry generation it was built from
  std::vector<uint64_t> member_hashes;    ///< open addressing, 0 = empty
  std::unordered_map<std::string, int32_t, registries::StringHash, std::equal_to<>> member_of;
  std::vector<std::string> member_id;     ///< member -> sensor id
  std::vector<uint32_t> member_group;     ///< member -> group
  std::vector<std::vector<uint32_t>> groups;  ///< group -> members
  /// Builds the table of `registry` (may be null) and the inline groups.
  static std::shared_ptr<const GroupTable> build(
      const registries::IdentityRegistry* registry,
      const std::vector<std::pair<std::string, std::vector<std::string>>>& inline_groups,
      uint64_t generation);
  /// True if `h` (sensor_id_hash) may be a member's (a set that fits in cache).
  bool maybe_member(uint64_t h) const;
  /// Member index of a sensor, -1 if none.
  int32_t member(std::string_view sensor_id) const;
};

/// The drift operator (stateful). Group membership follows the live identity registry; the
/// redundancy table (each group member's latest values) crosses partitions and is owned by
/// the operator under a mutex; see docs/drift-anomaly.md.
class Drift final : public engine::Operator {
 public:
  explicit Drift(DriftConfig config);
  std::string_view type() const override { return "drift"; }
  bool stateful() const override { return true; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override;
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;
  const DriftConfig& config() const { return config_; }
  /// Number of redundancy groups and members now (for tests).
  size_t group_count() const { return current_groups()->groups.size(); }
  size_t member_count() const { return current_groups()->member_group.size(); }
  /// Heap bytes of the shared redundancy table (not per partition).
  size_t shared_memory_bytes() const;

  /// Builds from YAML (see docs/config-reference.md, `drift`).
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

  /// A group member's recent values (a ring of the last kRing, increasing times).
  static constexpr int kRing = 8;
  struct Member {
    std::array<double, kRing> value{};
    std::array<int64_t, kRing> time_ns{};
    float sigma = 0;
    float expanded = 0;
    uint8_t count = 0, head = 0;  ///< values held; index of the newest
    uint8_t alarm = 0;
    /// Adds a value (ignored unless newer than the newest).
    void add(double v, int64_t t);
    /// The member's value at time t from the least-squares line through the values held,
    /// for t from the oldest value to two mean intervals past the newest; false otherwise or
    /// if the mean interval is longer than max_age. *var_factor = the variance of the
    /// estimate in units of sigma^2 (1/n + (t - mean t)^2 / Sxx).
    bool at(int64_t t, int64_t max_age, double* v, double* var_factor) const;
  };
  /// A copy of a member's values (false if `sensor_id` is no member or holds none).
  bool member_values(std::string_view sensor_id, Member* out) const;
  /// Sets a member's values (restore; ignored if `sensor_id` is no member).
  void set_member_values(std::string_view sensor_id, const Member& m) const;

 private:
  /// The group table of the registry's current generation (rebuilt, with the members'
  /// values carried over by sensor id, when the registry changed).
  std::shared_ptr<const GroupTable> current_groups() const;

  const DriftConfig config_;
  mutable std::mutex group_mu_;
  mutable std::shared_ptr<const GroupTable> groups_;  ///< guarded by group_mu_
  mutable std::vector<Member> members_;               ///< by groups_' member index; group_mu_
};

}  // namespace assay::operators
