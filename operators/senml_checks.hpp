#pragma once
/// \file Operator `senml_checks`: replay protection for SenML packs (formats/senml_check.hpp) on
/// the records of a `senml-cose` input. SenML has no sequence number, so the rule is on time:
/// per sensor name, resolved times must strictly increase across packs and within a pack, and
/// a pack is checked atomically. Stateful: one formats::SenmlReplayState per partition, fed in
/// input order, so verdicts are deterministic; durable, one entry per sensor name a batch
/// advanced (docs/state.md). Place it after verify_signature: only packs whose
/// signature or MAC verified reach it, so a forged pack never moves a sensor's time. A finding
/// rejects every reading of the pack (`senml.replay`, `senml.state_full`). See
/// docs/senml-cose.md.

#include <memory>

#include "engine/operator.hpp"
#include "formats/senml_check.hpp"

namespace assay::operators {

/// The reject code of a replay finding (same string as formats::senml_check_name).
engine::RejectCode senml_check_reject_code(formats::SenmlCheck c);

/// The senml_checks operator.
class SenmlChecks final : public engine::Operator {
 public:
  /// Checks with these limits.
  explicit SenmlChecks(formats::SenmlCheckConfig config) : checker_(config) {}
  std::string_view type() const override { return "senml_checks"; }
  bool stateful() const override { return true; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override;
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;

  /// Builds from YAML: `{type: senml_checks, max_sensors}` (optional).
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  formats::SenmlReplayChecker checker_;
};

}  // namespace assay::operators
