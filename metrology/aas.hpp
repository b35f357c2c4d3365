#pragma once
/// \file Asset Administration Shell export (docs/metrology-cloud.md, "AAS export"): per
/// instrument an AAS environment in the IDTA-01001 V3.0 JSON serialization with the Digital
/// Nameplate submodel (IDTA 02006-2-0: serial number, firmware version, markings) and the
/// TimeSeries submodel (IDTA 02008-1-1): an internal segment whose records carry Assay's verdict
/// as value qualifiers, and a linked segment whose endpoint is the trusted topic.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace assay::metrology {

/// Nameplate facts the registries do not hold (the register's `nameplate:` settings).
struct NameplateDefaults {
  std::string manufacturer_name = "unknown";
  std::string product_designation = "measuring instrument";
  std::string year_of_construction = "2026";
  std::string country_of_origin;
  /// A marking (e.g. CE, the metrology marking M) and the certificate or approval it names.
  struct Marking {
    std::string name;
    std::string certificate;
  };
  std::vector<Marking> markings;
};

/// What the export knows about one instrument (from the register or its snapshot).
struct AasInstrument {
  std::string id;  ///< the sensor id
  std::string owner;
  std::string quantity;
  std::string unit;
  std::optional<double> range_min, range_max;
  std::string firmware_sha256;  ///< hex of the firmware last seen ("" = none)
  std::string firmware_status;  ///< approved, not_approved, missing, not_checked
  std::string certificate_id;   ///< in force ("" = none)
  int64_t certificate_valid_until_ns = 0;
  std::string verification_outcome;  ///< last e-verification ("" = never)
  std::string verification_result_id;
  int64_t verification_decided_ns = 0;
};

/// One record of the TimeSeries' internal segment.
struct AasRecord {
  int64_t time_ns = 0;              ///< the reading's time
  double value = 0;                 ///< corrected value
  std::string verdict;              ///< "trusted" or "rejected:<reason>"
  std::string calibration_verdict;  ///< e.g. "InTolerance" ("" = not checked)
};

/// Export settings.
struct AasOptions {
  std::string id_prefix = "urn:assay:aas:";  ///< shell id = prefix + sensor id
  std::string trusted_endpoint;              ///< e.g. "kafka://broker:9092/readings.trusted"
  NameplateDefaults nameplate;
};

/// The AAS environment (assetAdministrationShells, submodels) of one instrument as JSON text.
std::string aas_environment_json(const AasInstrument& instrument,
                                 const std::vector<AasRecord>& records, const AasOptions& options);

}  // namespace assay::metrology
