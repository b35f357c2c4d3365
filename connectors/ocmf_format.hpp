#pragma once
/// \file Input format `ocmf` (`format: ocmf` on a file or Kafka input): each input record is
/// one OCMF record `OCMF|{payload}|{signature}` as an EV charger's meter signs it. Decoded with
/// the strict parser of formats/ocmf.hpp into the rows operators see (one Reading per RD
/// entry) and the signature envelope verify_signature checks: the payload bytes exactly as
/// received (never re-serialised), the key id (the meter identity, see ocmf_identity) and the
/// signature decoded from SD (hex or base64 DER, as SE says) to r‖s. See docs/ocmf.md for the
/// field mapping and the reasons.

#include <memory>
#include <string>
#include <string_view>

#include "engine/decode.hpp"
#include "formats/ocmf.hpp"

namespace assay::connectors {

/// Options of the `ocmf` input format (`ocmf:` map on the input).
struct OcmfFormatOptions {
  /// Prefix of the sensor id and key id (e.g. "ocmf:"; default none): sensor_id = key_id =
  /// prefix + ocmf_signer_id(record).
  std::string id_prefix;
  /// Parser policy and limits (legacy 192-bit curves are always refused).
  formats::OcmfParseOptions parse;
};

/// The identity a record is signed under: prefix + formats::ocmf_signer_id (MS; GS when MS is
/// empty; "GS/MS" when both are set and differ; CI when neither is). Built into `buf`.
std::string_view ocmf_identity(const formats::OcmfRecord& r, std::string_view prefix,
                               std::string& buf);

/// The `ocmf` input format. Immutable; decode() is thread-safe.
class OcmfFormat final : public engine::InputFormat {
 public:
  /// A format with these options.
  explicit OcmfFormat(OcmfFormatOptions options);
  std::string_view name() const override { return "ocmf"; }
  void decode(engine::Batch& batch, uint32_t frame) const override;

  /// The options.
  const OcmfFormatOptions& options() const { return options_; }

  /// Builds from the input node: `format: ocmf` and an optional `ocmf: {id_prefix,
  /// lenient_types, max_record_bytes, max_readings}` map.
  static std::unique_ptr<engine::InputFormat> from_config(const engine::ConfigNode& input,
                                                          engine::BuildContext& ctx);

 private:
  OcmfFormatOptions options_;
};

/// The reject code of a parser error (`ocmf.*`, same string as formats::ocmf_error_name).
engine::RejectCode ocmf_reject_code(formats::OcmfError e);

}  // namespace assay::connectors
