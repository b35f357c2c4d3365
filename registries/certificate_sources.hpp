#pragma once
/// \file Where calibration certificates come from: a YAML/JSON file of certificates, one DCC
/// XML document, or a directory of such files (one DCC per file is how labs issue them).
/// Files are told apart by content (an XML document vs YAML/JSON), not by name.

#include <cstdint>
#include <string>
#include <vector>

#include "registries/calibration_registry.hpp"

namespace assay::registries {

/// True if the file at `path` starts like an XML document (see looks_like_xml).
bool is_xml_file(const std::string& path);

/// Loads one DCC XML file (one certificate, or a refusal in `report`). Throws
/// engine::ConfigError only if the file cannot be read.
std::vector<CalibrationCertificate> load_dcc_file(const std::string& path, const TrustList& trust,
                                                  CertificatesLoadReport& report,
                                                  const IdentityRegistry* identity);

/// Loads every certificate file of a directory: regular files named *.xml, *.yaml, *.yml or
/// *.json (not hidden, not recursive), in name order, in parallel. A file that cannot be read
/// or parsed is refused on its own (with its path); a certificate_id already loaded from an
/// earlier file is refused as a duplicate. Throws engine::ConfigError if the directory cannot
/// be listed.
std::vector<CalibrationCertificate> load_certificates_dir(const std::string& path,
                                                          const TrustList& trust,
                                                          CertificatesLoadReport& report,
                                                          const IdentityRegistry* identity);

/// A change stamp of a certificates source for polling: the mtime of a file, or for a
/// directory a hash of the names, sizes and mtimes of its certificate files (any added,
/// removed, renamed or rewritten file changes it). 0 if it cannot be stat'ed.
int64_t certificates_stamp(const std::string& path);

/// SHA-256 (hex) of a certificates source for the audit log: of the file, or for a directory
/// of the list of "<name> <sha256 of the file>\n" lines of its certificate files.
std::string certificates_sha256_hex(const std::string& path);

}  // namespace assay::registries
