#pragma once
/// \file Input format `senml-cose` (`format: senml-cose` on a file or Kafka input): each input
/// record is one COSE_Sign1 (ES256, EdDSA) or COSE_Mac0 (HMAC 256/256) message whose payload is
/// a SenML pack (RFC 8428; CBOR, or JSON by content type). Decoded with the strict parsers of
/// formats/cose.hpp and formats/senml.hpp into one row per resolved SenML record and the
/// envelope verify_signature checks: the COSE Sig_structure / MAC_structure rebuilt from the
/// bytes as received, the key id from `kid`, the raw signature or tag. See docs/senml-cose.md
/// for the mapping, the sensor rule and the reasons.

#include <memory>
#include <string>
#include <string_view>

#include "engine/decode.hpp"
#include "formats/cose.hpp"
#include "formats/senml.hpp"

namespace assay::connectors {

/// How a SenML record's sensor_id and quantity are chosen.
enum class SenmlSensorRule : uint8_t {
  /// sensor_id = the base name in effect without one trailing ':' or '/' (RFC 8428's base
  /// name names the device), quantity = the record's own name `n`; without a base name,
  /// sensor_id = the resolved name and quantity is empty. The kid's registry key must belong
  /// to that sensor (one device per key).
  kBaseName,
  /// sensor_id = the key id (a gateway's key signing for several devices), quantity = the
  /// resolved name.
  kKey,
};

/// Options of the `senml-cose` input format (`senml_cose:` map on the input).
struct SenmlCoseFormatOptions {
  /// Prefix of the key id (and of the sensor id under SenmlSensorRule::kKey).
  std::string id_prefix;
  /// The sensor rule.
  SenmlSensorRule sensor = SenmlSensorRule::kBaseName;
  /// COSE parser policy and limits.
  formats::CoseParseOptions cose;
  /// SenML parser policy and limits.
  formats::SenmlParseOptions senml;
};

/// The key id of a COSE `kid`: prefix + the kid as text when it is printable ASCII (0x21 to
/// 0x7e), else prefix + "hex:" + its lowercase hex. Built into `buf`.
std::string_view senml_cose_key_id(std::span<const uint8_t> kid, std::string_view prefix,
                                   std::string& buf);

/// The `senml-cose` input format. Immutable; decode() is thread-safe.
class SenmlCoseFormat final : public engine::InputFormat {
 public:
  /// A format with these options.
  explicit SenmlCoseFormat(SenmlCoseFormatOptions options);
  std::string_view name() const override { return "senml-cose"; }
  void decode(engine::Batch& batch, uint32_t frame) const override;

  /// The options.
  const SenmlCoseFormatOptions& options() const { return options_; }

  /// Builds from the input node: `format: senml-cose` and an optional `senml_cose: {id_prefix,
  /// sensor, require_tag, max_message_bytes, max_records, accept_non_numeric}` map.
  static std::unique_ptr<engine::InputFormat> from_config(const engine::ConfigNode& input,
                                                          engine::BuildContext& ctx);

 private:
  SenmlCoseFormatOptions options_;
};

/// The reject code of a COSE parser error (`cose.*`, same string as formats::cose_error_name).
engine::RejectCode cose_reject_code(formats::CoseError e);
/// The reject code of a SenML parser error (`senml.*`, same string as formats::senml_error_name).
engine::RejectCode senml_reject_code(formats::SenmlError e);

}  // namespace assay::connectors
