#pragma once
/// \file Operator `privacy` (GDPR, PAS 7040 (e)): per-field rules that drop a field of a
/// reading or replace it with a keyed pseudonym, HMAC-SHA256(key, value) in hex (64
/// characters, not truncated), stable for a key so consumers can still join on it. Fields:
/// `sensor_id` (pseudonymise only: it is required) and `attributes.NAME` (sensor-supplied
/// metadata such as an operator id). The operator writes its decisions to the Batch's privacy
/// side table; the output stage builds the released Reading from them and then withholds the
/// input's signed bytes (which hold the raw values). See docs/privacy.md.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/hmac_sha256.hpp"
#include "engine/operator.hpp"

namespace assay::operators {

/// One privacy rule.
struct PrivacyRule {
  std::string name;       ///< recorded in TrustedReading.privacy_rules
  std::string attribute;  ///< attribute key; empty = the field is sensor_id
  bool drop = false;      ///< drop the field, or (false) pseudonymise it
  /// HMAC key for pseudonymise (from a file or the environment; never logged).
  std::optional<crypto::HmacSha256Key> key;
};

/// The privacy operator (stateless: runs on batches in parallel).
class Privacy final : public engine::Operator {
 public:
  /// `rules` apply in order; a field handled by an earlier rule is left to it.
  explicit Privacy(std::vector<PrivacyRule> rules) : rules_(std::move(rules)) {}

  std::string_view type() const override { return "privacy"; }
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;
  /// The rules (for tests).
  const std::vector<PrivacyRule>& rules() const { return rules_; }

  /// Builds from `{type: privacy, rules: [{name, field, action, key | key_env}]}`.
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  const std::vector<PrivacyRule> rules_;
};

}  // namespace assay::operators
