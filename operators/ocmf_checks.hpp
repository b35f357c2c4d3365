#pragma once
/// \file Operator `ocmf_checks`: the OCMF plausibility checks of formats/ocmf_check.hpp
/// (pagination continuity per meter and context, transaction pairing, meter readings and times
/// that must not decrease within a transaction, time synchronisation status, error flags,
/// meter status) on the records of an `ocmf` input. Stateful: one formats::OcmfCheckState per
/// partition, fed in input order, so verdicts are deterministic; durable, one entry per signer
/// a batch updated (docs/state.md). Place it after
/// verify_signature: only records whose signature verified reach it, so a forged record never
/// moves a meter's state. A finding rejects every reading of the record with its reason
/// (`ocmf.pagination_gap`, ...); records of other formats pass untouched. See docs/ocmf.md.

#include <memory>

#include "engine/operator.hpp"
#include "formats/ocmf.hpp"
#include "formats/ocmf_check.hpp"

namespace assay::operators {

/// The reject code of a plausibility finding (same string as formats::ocmf_check_name).
engine::RejectCode ocmf_check_reject_code(formats::OcmfCheck c);

/// The ocmf_checks operator.
class OcmfChecks final : public engine::Operator {
 public:
  /// Checks configured by `config`.
  explicit OcmfChecks(formats::OcmfCheckConfig config) : checker_(config) {}
  std::string_view type() const override { return "ocmf_checks"; }
  bool stateful() const override { return true; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override;
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;

  /// Builds from YAML: `{type: ocmf_checks, pagination, transactions, monotonic,
  /// reject_unsynchronized, reject_informative, error_flags, meter_status, max_meters,
  /// max_registers}` (all optional; defaults as formats::OcmfCheckConfig).
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  formats::OcmfChecker checker_;
};

}  // namespace assay::operators
