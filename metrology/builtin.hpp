#pragma once
/// \file The Metrology Cloud operators (docs/metrology-cloud.md) and their registration:
///
///   - `verification`: runs a verification plan (the CampaignService it creates on first use)
///     and hands it every reading that names a request; writes the e-verification results on
///     route `verifications`. Stateful (serial stage), so responses are matched in input order.
///   - `instrument_register`: feeds every row to the pipeline's InstrumentRegister (created on
///     first use), served on the pipeline's HTTP endpoint under /register.

#include <memory>

#include "engine/operator.hpp"
#include "engine/pipeline.hpp"
#include "metrology/campaign.hpp"
#include "metrology/register.hpp"

namespace assay::metrology {

/// Operator `verification`.
class VerificationOperator final : public engine::Operator {
 public:
  /// `campaigns` is required; the counters may be null.
  VerificationOperator(std::shared_ptr<CampaignService> campaigns,
                       std::array<prometheus::Counter*, 6> responses = {},
                       std::array<prometheus::Counter*, 4> results = {});
  std::string_view type() const override { return "verification"; }
  bool stateful() const override { return true; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override;
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;
  /// The campaign service.
  const std::shared_ptr<CampaignService>& campaigns() const { return campaigns_; }

  /// Builds from YAML (docs/metrology-cloud.md).
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  const std::shared_ptr<CampaignService> campaigns_;
  const std::array<prometheus::Counter*, 6> responses_;  ///< by Disposition
  const std::array<prometheus::Counter*, 4> results_;    ///< by Outcome
};

/// Builds `instrument_register` from YAML (docs/metrology-cloud.md).
std::unique_ptr<engine::Operator> register_from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

/// Registers `verification` and `instrument_register`.
void register_metrology(engine::Registries& registries);

}  // namespace assay::metrology
