#pragma once
/// \file A calibration certificate for one instrument as a plain C++ model, close to PTB's
/// Digital Calibration Certificate (DCC): administrative data (ids, lab, dates), results
/// (correction, expanded uncertainty with coverage factor, maximum permissible errors,
/// measuring range), the conformity statement, and the issuing lab's signature.
///
/// The lab signs `canonical_bytes(cert)` (Ed25519). The YAML form (`to_yaml`) is what
/// `assay simulate --certs-out` writes and what the certificate store loads.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace assay::registries {

/// Maximum permissible error: |error| <= absolute + relative * |value|.
struct Mpe {
  double absolute = 0;
  double relative = 0;
};

/// Correction applied to a raw value x: y = offset + gain * x + sum(poly[i] * x^(i+2)).
struct Correction {
  double offset = 0;
  double gain = 1;
  std::vector<double> poly;  ///< coefficients of x^2, x^3, ...
};

/// One calibration certificate (times in UTC nanoseconds since the Unix epoch).
struct CalibrationCertificate {
  std::string certificate_id;
  std::string sensor_id;
  std::string lab_id;
  int64_t issue_date_ns = 0;
  int64_t valid_from_ns = 0;
  int64_t valid_until_ns = 0;
  std::string quantity;
  std::string unit;
  Correction correction;
  double expanded_uncertainty = 0;  ///< U = k * u of the calibration
  double coverage_factor = 2;       ///< k
  Mpe mpe_initial;
  Mpe mpe_in_service;
  double range_min = 0;
  double range_max = 0;
  std::string conformity;  ///< DCC statements/conformity, e.g. "pass"
  std::string lab_key_id;
  std::string signature_alg = "Ed25519";
  std::vector<uint8_t> signature;
};

/// The bytes a lab signs: "assay-calibration-certificate-v1\n" then one `name=value\n` line
/// per field in declaration order (certificate_id, sensor_id, lab_id, issue_date_ns,
/// valid_from_ns, valid_until_ns, quantity, unit, correction.offset, correction.gain,
/// correction.poly, expanded_uncertainty, coverage_factor, mpe_initial.absolute,
/// mpe_initial.relative, mpe_in_service.absolute, mpe_in_service.relative, range_min,
/// range_max, conformity, lab_key_id, signature_alg). Doubles as printf "%.17g", times as
/// integer nanoseconds, poly comma-separated (empty when none). The signature is excluded.
/// Strings are written as they are; a '\n' or '\\' inside one is escaped as "\\n" / "\\\\"
/// so that no field can forge another line.
std::string canonical_bytes(const CalibrationCertificate& cert);

/// YAML document `certificates: [...]` (one block mapping per certificate; times RFC 3339;
/// signature as lowercase hex).
std::string to_yaml(const std::vector<CalibrationCertificate>& certs);

/// A YAML scalar for `s`: plain where that is unambiguous (starts with a letter, '/', './' or '../', only
/// [A-Za-z0-9_.:/+-], not a YAML 1.1 boolean/null word), otherwise double-quoted and escaped.
std::string yaml_scalar(std::string_view s);

/// A YAML number for `v` (shortest round-trip; .nan / .inf / -.inf for non-finite values).
std::string yaml_double(double v);

}  // namespace assay::registries
