#pragma once
/// \file A fast reader for certificate files (`certificates: [...]`, the format
/// `registries::to_yaml` writes), with libyaml's event parser instead of yaml-cpp's document
/// tree (about 15 times faster on a 100,000-certificate file).
///
/// It accepts only what the ConfigNode path (parse_certificate) accepts with the same values,
/// and declines everything else: anchors, aliases, tags, merge keys, `${VAR}` interpolation,
/// a number not in plain decimal form, a null, an unknown or duplicate key, or any certificate
/// that parse_certificate would refuse. A declined file is parsed by the ConfigNode path,
/// which produces the located refusals; so the fast path changes speed, never an outcome.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registries/calibration_certificate.hpp"

namespace assay::registries {

/// One certificate of a file and where its mapping starts (1-based, as ConfigNode reports).
struct LocatedCertificate {
  CalibrationCertificate cert;
  int line = 0;
  int column = 0;
};

/// Every certificate of a certificates document, or nullopt where the ConfigNode path must
/// decide (see the file comment).
std::optional<std::vector<LocatedCertificate>> parse_certificates_fast(std::string_view text);

}  // namespace assay::registries
