#pragma once
/// \file Offline checking of e-verification results (`assay verify-results`,
/// docs/metrology-cloud.md, "Checking results"): every record decodes, is signed by a pinned
/// engine key, each case's outcome follows from its numbers under the record's decision rule,
/// the result's outcome and reason follow from its cases, no result and no piece of evidence is
/// counted twice, and (with the audit log) every result is the one the audit log recorded.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrology/protocol.hpp"

namespace assay::metrology {

/// One problem found.
struct ResultFinding {
  size_t position = 0;  ///< index of the record
  std::string code;     ///< malformed, bad_signature, inconsistent_case, inconsistent_outcome,
                        ///< duplicate_result, evidence_reused, not_in_audit_log
  std::string message;
};

/// What the check found.
struct ResultsReport {
  std::vector<Result> results;    ///< decoded records (in order; malformed ones left out)
  std::vector<size_t> positions;  ///< position of each decoded result
  std::vector<ResultFinding> findings;
  std::map<Outcome, size_t> by_outcome;
  bool ok() const { return findings.empty() && !results.empty(); }
};

/// Checks encoded results (`records`, e.g. the frames of a `verifications` file) against the
/// pinned engine keys. `audit_records`: the results recorded in the audit log (the decoded
/// `record` detail of its `verification.result` events); empty = not compared.
ResultsReport verify_results(const std::vector<std::vector<uint8_t>>& records,
                             const std::vector<std::array<uint8_t, 32>>& public_keys,
                             const std::vector<std::vector<uint8_t>>* audit_records = nullptr);

/// The encoded results an audit log file recorded (its `verification.result` events' `record`
/// details, base64-decoded). False with a message if the file cannot be read.
bool results_from_audit_log(const std::string& path, std::vector<std::vector<uint8_t>>* out,
                            std::string* error);

}  // namespace assay::metrology
