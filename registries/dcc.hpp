#pragma once
/// \file Import of PTB's Digital Calibration Certificate (DCC 3.x, XML, namespaces
/// `https://ptb.de/dcc` and `https://ptb.de/si`) into Assay's certificate model.
///
/// One DCC = one calibration certificate for one item. The importer parses the document with
/// libxml2 (no DTD, no entities, no network, size-bounded), verifies its enveloped XMLDSig
/// signature with xmlsec1 (OpenSSL) against an X.509 certificate of the lab trust list
/// (nothing referenced by the document is ever fetched), then maps the identity, dates,
/// validity, calibration table (correction and expanded uncertainty in every univariate D-SI
/// form), measuring range, acceptance limits and conformity statements onto a
/// CalibrationCertificate. A document that fails is refused with the file, the XML path and
/// the reason. The mapping rules are in docs/dcc.md.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "registries/calibration_certificate.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_registry.hpp"

namespace assay::registries {

/// Largest DCC document the importer parses (bytes); a larger one is refused unread.
inline constexpr size_t kDccMaxBytes = size_t{16} << 20;

/// A value the importer took from the document and where (for `assay dcc inspect`).
struct DccTaken {
  std::string field;  ///< Assay field, e.g. "certificate_id"
  std::string value;  ///< as Assay uses it (converted to the sensor's unit)
  std::string xpath;  ///< XML path of the source element
  long line = 0;      ///< its line in the document
};

/// One calibration point of the table the correction was fitted to, in the sensor's unit.
struct DccPoint {
  double indicated = 0;             ///< the instrument's indication x
  double reference = 0;             ///< the reference value r (what x should have read)
  double standard_uncertainty = 0;  ///< u at this point (U / k)
  double coverage_factor = 0;       ///< k stated at this point (2 when only u is stated)
  double coverage_probability = 0;  ///< p stated at this point (0: not stated)
};

/// Everything the importer took from one DCC.
struct DccImport {
  CalibrationCertificate cert;  ///< the mapped certificate (signature = the XMLDSig value)
  std::string schema_version;   ///< the DCC's schemaVersion
  std::string
      uncertainty_form;  ///< D-SI form the uncertainty came from, e.g. "si:expandedUncXMLList"
  double coverage_probability = 0;  ///< of the expanded uncertainty (0: not stated)
  std::string correction_method;    ///< how the correction was derived from the table
  double fit_residual = 0;          ///< largest |r - y(x)| over the points (sensor unit)
  std::vector<DccPoint> points;     ///< the calibration table
  std::string signature_method;     ///< XMLDSig SignatureMethod algorithm URI
  std::string signer_subject;       ///< subject of the trust-list X.509 certificate that verified
  int64_t signing_time_ns = 0;      ///< XAdES SigningTime (0: the signature states none)
  std::vector<DccTaken> taken;      ///< the values taken, with their XML paths (if recorded)
};

/// The ECDSA P-256 check of a DCC's SignatureValue over its canonical ds:SignedInfo, left for
/// complete_dcc_signatures (DccVerifyMode::kDeferred). xmlsec has processed the signature
/// (structure, allowed algorithms, the key's type, every reference's digest) and handed the
/// bytes it would have verified here; Assay's batched P-256 verifier (crypto/ecdsa.hpp) checks
/// them with the trust list's key.
struct DccPendingSignature {
  std::shared_ptr<const DccVerifyKey> key;  ///< the signing trust-list entry's key
  std::string signed_info;                  ///< the canonical ds:SignedInfo (the signed bytes)
  std::array<uint8_t, 64> signature{};      ///< the SignatureValue, r‖s (32 + 32 bytes)
  RefusedCertificate refusal;               ///< the outcome if the signature does not verify
};

/// Outcome of importing one DCC: either the import or the refusal (located message:
/// "<where>:<line>: <xml path>: <reason>").
struct DccOutcome {
  std::optional<DccImport> import;
  std::optional<RefusedCertificate> refused;
  /// Set only by DccVerifyMode::kDeferred: the SignatureValue is still to be checked, and
  /// `import` / `refused` (the mapping, already done) must not be used before
  /// complete_dcc_signatures resolves it: they stand only if the signature verifies; otherwise
  /// the outcome becomes pending->refusal (`bad_signature`), exactly as an immediate check
  /// refuses the document.
  std::optional<DccPendingSignature> pending;
};

/// When import_dcc checks an ECDSA P-256 (ecdsa-sha256) SignatureValue.
enum class DccVerifyMode : uint8_t {
  kNow = 0,       ///< before import_dcc returns (a batch of one)
  kDeferred = 1,  ///< left in DccOutcome::pending for complete_dcc_signatures
};

/// Imports one DCC document. `where` names it in refusals (a file path or
/// "kafka:topic/partition@offset"). `identity` (optional) supplies the sensor's unit and
/// quantity: the DCC's values are converted to that unit, and a DCC with no value in a unit
/// of the same dimension is refused. `record_taken` fills DccImport::taken (the XML path of
/// every value taken; `assay dcc inspect`). `mode`: kDeferred leaves the ECDSA P-256
/// SignatureValue check of a document whose references verified in DccOutcome::pending (other
/// keys and algorithms are always verified by xmlsec at once). Never throws for a bad document.
DccOutcome import_dcc(std::string_view xml, const std::string& where, const TrustList& trust,
                      const IdentityRegistry* identity = nullptr, bool record_taken = false,
                      DccVerifyMode mode = DccVerifyMode::kNow);

/// Verifies the pending signatures of `outcomes` together (one ecdsa_verify_batch on the
/// calling thread) and resolves each: a signature that verifies leaves the outcome as it is,
/// one that does not replaces it by its refusal. Clears every `pending`. Verdicts do not
/// depend on the batch (docs/verification-ecdsa-hmac.md).
void complete_dcc_signatures(std::span<DccOutcome> outcomes);

/// Initialises libxml2 and xmlsec for the importer once per process (import_dcc calls it; a
/// program that also uses xmlsec itself, e.g. to sign test documents, calls it first). It
/// removes every libxml2 and xmlsec input callback (file, http, ftp) so that nothing a
/// document references can be opened, and refuses external entities. It registers, for the
/// ecdsa-sha256 URI, a copy of xmlsec's own transform class that can hand the SignatureValue
/// check to Assay's verifier (and signs and verifies as xmlsec's otherwise): a program that
/// restricts a DSig context's transforms by class enables the one registered for the URI
/// (xmlSecTransformIdListFindByHref), not xmlSecTransformEcdsaSha256Id.
void dcc_init();

/// True if `data` is an XML document rather than YAML/JSON: its first character after an
/// optional UTF-8 byte order mark and white space is '<'.
bool looks_like_xml(std::string_view data);

/// An X.509 lab certificate parsed for the trust list.
struct X509LabCertificate {
  std::vector<uint8_t> der;           ///< the certificate (DER)
  std::array<uint8_t, 32> sha256{};   ///< SHA-256 of `der` (its fingerprint)
  std::string subject;                ///< RFC 2253 subject
  int64_t not_before_ns = INT64_MIN;  ///< validity of the certificate
  int64_t not_after_ns = INT64_MAX;
  std::shared_ptr<const DccVerifyKey> key;  ///< its public key, loaded for xmlsec
};

/// Parses one X.509 certificate (PEM or DER) for the trust list; nullopt with `error` if it
/// is not a certificate or its key type cannot verify XMLDSig signatures (RSA, EC).
std::optional<X509LabCertificate> parse_x509_lab_certificate(std::string_view pem_or_der,
                                                             std::string& error);

/// A D-SI unit (e.g. "\\milli\\kelvin") or UCUM unit (e.g. "mK", "Cel") as Assay converts it.
struct DsiUnit {
  std::string ucum;      ///< UCUM code, e.g. "mK"
  std::string quantity;  ///< the dimension's name, e.g. "temperature"
  int dimension = -1;    ///< -1: unknown unit
  double factor = 1;     ///< value in the dimension's base unit = factor * value + offset
  double offset = 0;
};

/// Parses a D-SI unit string; dimension -1 if Assay does not know it.
DsiUnit parse_dsi_unit(std::string_view dsi);
/// Parses a UCUM unit code as the readings use it; dimension -1 if Assay does not know it.
DsiUnit parse_ucum_unit(std::string_view ucum);

}  // namespace assay::registries
