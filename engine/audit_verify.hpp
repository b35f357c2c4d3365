#pragma once
/// \file Verification of an audit log (engine/audit_log.hpp) by an auditor who pins the
/// engine's public key(s): every event decodes, its record_hash matches its content, its
/// signature verifies under a pinned key, and per log id the seqs run 0, 1, 2, ... with each
/// prev_hash equal to the previous event's record_hash. Each finding names the position of
/// the record and its seq, so a deleted, inserted, reordered or altered event is located.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace assay::engine {

/// One problem found in an audit log.
struct AuditFinding {
  size_t position = 0;   ///< index of the record in the input (0-based)
  bool has_seq = false;  ///< false if the record did not decode
  uint64_t seq = 0;      ///< seq the record claims
  std::string code;      ///< "malformed", "hash_mismatch", "bad_signature", "seq_gap",
                         ///< "seq_out_of_order", "chain_break", "chain_start_missing"
  std::string message;   ///< human-readable, names the place
};

/// One chain (log id) seen in the input.
struct AuditChainSummary {
  std::string log_id;              ///< the chain's id
  uint64_t events = 0;             ///< events seen with this id
  uint64_t last_seq = 0;           ///< seq of the last of them
  std::array<uint8_t, 32> head{};  ///< record_hash of the last event
};

/// Result of verify_audit_log.
struct AuditVerifyReport {
  bool ok = true;                         ///< no findings
  size_t records = 0;                     ///< records examined
  std::vector<AuditFinding> findings;     ///< in record order
  std::vector<AuditChainSummary> chains;  ///< one per log id, in order of appearance
  /// Event type of each record by position ("" where it did not decode).
  std::vector<std::string> types;
};

/// Verifies `records` (encoded AuditEvent buffers in log order, e.g. the frames of an audit
/// log file) against the pinned engine public keys (a signature must verify under one).
AuditVerifyReport verify_audit_log(const std::vector<std::vector<uint8_t>>& records,
                                   std::span<const std::array<uint8_t, 32>> public_keys);

}  // namespace assay::engine
