#pragma once
/// \file Operator `calibration` (PAS 7040 (a), (b)): for every selected reading, finds the
/// sensor's calibration certificate valid at the reading's time, applies its correction,
/// combines the reading's standard uncertainty with the certificate's (GUM, root sum of
/// squares) into an expanded uncertainty, and decides a verdict: in tolerance, out of
/// tolerance (decision rule with the expanded uncertainty as guard band), no certificate,
/// certificate expired / not yet valid, outside the measuring range, quantity or unit
/// mismatch, firmware not approved, indeterminate. Which verdicts reject the reading is
/// configurable. Stateless. See docs/calibration.md.

#include <array>
#include <memory>
#include <string>

#include "registries/calibration_registry.hpp"
#include "registries/identity_store.hpp"
#include "registries/identity_registry.hpp"
#include "engine/operator.hpp"
#include "schemas/common_generated.h"

namespace assay::wire {
struct Reading;
}

namespace assay::operators {

/// Number of CalibrationVerdict values (NotChecked .. Indeterminate).
inline constexpr size_t kCalibrationVerdictCount = 11;

/// "in_tolerance", "out_of_tolerance", "no_certificate", "certificate_expired",
/// "certificate_not_yet_valid", "outside_measuring_range", "quantity_mismatch",
/// "unit_mismatch", "firmware_not_approved", "indeterminate" ("not_checked" for 0).
std::string_view calibration_verdict_name(wire::CalibrationVerdict v);

/// Decision rule for in/out of tolerance.
enum class DecisionRule : uint8_t {
  kGuarded =
      0,    ///< ISO 14253-1 / ILAC-G8: |e| + U <= MPE in, |e| - U > MPE out, else indeterminate
  kSimple,  ///< |e| <= MPE in, else out (the uncertainty is only reported)
};

/// The decision rule for a reference comparison: `abs_error` = |corrected - reference|,
/// `expanded` = U of the corrected value, `mpe` = the MPE at the reference value. Guarded:
/// in tolerance if |e| + U <= MPE, out if |e| - U > MPE, else Indeterminate; simple: in if
/// |e| <= MPE, else out. (The rule of the `calibration` operator and of remote verification.)
wire::CalibrationVerdict decide_tolerance(double abs_error, double expanded, double mpe,
                                          DecisionRule rule);

/// Configuration of `calibration`.
struct CalibrationConfig {
  /// The pipeline's live calibration registry (required); its snapshots carry the identity
  /// registry (approved firmware, quantity/unit, range) when one is attached.
  std::shared_ptr<registries::CalibrationStore> store;
  DecisionRule rule = DecisionRule::kGuarded;
  bool use_initial_mpe = false;  ///< decide against the initial-verification MPE
  /// reject[v]: a row with verdict v is rejected (default: every verdict but InTolerance).
  std::array<bool, kCalibrationVerdictCount> reject{};
  CalibrationConfig();
};

/// What the operator decides for one reading.
struct CalibrationResult {
  wire::CalibrationVerdict verdict = wire::CalibrationVerdict::NotChecked;
  engine::RejectCode code = engine::RejectCode::kNone;  ///< code if this verdict rejects
  double corrected = 0;  ///< corrected value (the raw value where no certificate applies)
  double expanded = 0;   ///< expanded uncertainty U of the corrected value
  double coverage = 2;   ///< coverage factor k of U
  double mpe = 0;        ///< in-service MPE at the value (0 = no certificate applies)
  std::string_view certificate_id;  ///< stable view (empty if none)
};

/// The decision for one reading given the certificate lookup for its sensor and time.
CalibrationResult decide_calibration(const wire::Reading& reading,
                                     const registries::CertLookup& found,
                                     const registries::IdentityRegistry* identity,
                                     DecisionRule rule, bool use_initial_mpe);

/// The decision for one reading (pure; exposed for tests and benchmarks).
CalibrationResult evaluate_calibration(const wire::Reading& reading,
                                       const registries::CalibrationRegistry& certificates,
                                       const registries::IdentityRegistry* identity,
                                       DecisionRule rule, bool use_initial_mpe);

/// The calibration operator.
class Calibration final : public engine::Operator {
 public:
  /// Throws std::invalid_argument without a store.
  explicit Calibration(CalibrationConfig config);

  std::string_view type() const override { return "calibration"; }
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;

  /// The live certificate store.
  registries::CalibrationStore& store() const { return *config_.store; }

  /// Builds from YAML (see docs/calibration.md).
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  const CalibrationConfig config_;
};

}  // namespace assay::operators
