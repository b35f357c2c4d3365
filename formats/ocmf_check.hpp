#pragma once
/// \file OCMF plausibility checks across records: pagination continuity (T and F counters),
/// transaction pairing (B ... C/S/T/X ... E/L/R/A/P), meter readings that must not decrease
/// within a transaction, time synchronisation status, error flags, meter status. These are the
/// checks the specification asks of a "check component" and that offline verifiers leave out.
///
/// The checker is an immutable configured object; the per-meter state it reads and updates is
/// an explicit OcmfCheckState owned by the caller (the engine keeps one per partition, as
/// durable operator state, with snapshot()/restore()). Feed a meter's records in their order,
/// and only records whose signature verified (a forged record must not move the state).
/// Same records in the same order -> same results and same state. See docs/ocmf.md.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/ocmf.hpp"
#include "formats/state_codec.hpp"

namespace assay::formats {

/// One plausibility finding. Stable string forms: ocmf_check_name().
enum class OcmfCheck : uint8_t {
  kOk = 0,
  kPaginationReplay,         ///< "ocmf.pagination_replay": PG not above the last of its context
  kPaginationGap,            ///< "ocmf.pagination_gap": PG skipped numbers (records missing)
  kTransactionUnterminated,  ///< "ocmf.transaction_unterminated": B while a transaction is open
  kTransactionNotOpen,       ///< "ocmf.transaction_not_open": C/S/T/X outside a transaction
  kEndWithoutBegin,          ///< "ocmf.transaction_end_without_begin": E/L/R/A/P without B
  kReadingDecreased,         ///< "ocmf.reading_decreased": a register fell within a transaction
  kTimeDecreased,            ///< "ocmf.time_decreased": time went back within a transaction
  kTimeUnsynchronized,       ///< "ocmf.time_unsynchronized": time status U
  kTimeInformative,          ///< "ocmf.time_informative": time status I (off by default)
  kTransactionException,     ///< "ocmf.transaction_exception": TX X, or later in its transaction
  kErrorFlags,               ///< "ocmf.error_flags": EF names unusable quantities
  kMeterStatus,              ///< "ocmf.meter_status": ST other than G (OK)
  kTooManyRegisters,         ///< "ocmf.too_many_registers": more OBIS registers than the limit
  kStateFull,                ///< "ocmf.state_full": more meters than the limit (not checked)
  kCount_,                   ///< number of values (keep last)
};

/// The stable reason code, e.g. "ocmf.pagination_gap".
std::string_view ocmf_check_name(OcmfCheck c);

/// Which checks run, and the state limits.
struct OcmfCheckConfig {
  bool pagination = true;             ///< replay and gap
  bool transactions = true;           ///< pairing, exception
  bool monotonic = true;              ///< reading_decreased, time_decreased
  bool reject_unsynchronized = true;  ///< time status U
  bool reject_informative = false;    ///< time status I
  bool error_flags = true;            ///< EF
  bool meter_status = true;           ///< ST
  size_t max_meters = 1u << 20;       ///< signers kept in one state
  size_t max_registers = 16;          ///< OBIS registers tracked per meter
};

/// Outcome for one record.
struct OcmfCheckResult {
  OcmfCheck first = OcmfCheck::kOk;  ///< first finding (reading order, then check order)
  uint32_t reading = 0;              ///< reading index of `first`
  uint32_t mask = 0;                 ///< bit (1 << OcmfCheck) for every finding in the record
  /// True if nothing was found.
  bool ok() const { return first == OcmfCheck::kOk; }
};

/// Per-meter memory of the checks (one per partition in the engine).
class OcmfCheckState {
 public:
  /// A tracked OBIS register of an open transaction.
  struct Register {
    std::string obis;  ///< RI
    double value = 0;  ///< last value in the transaction
  };
  /// What is remembered of one signer.
  struct Meter {
    uint64_t last_pg[2] = {0, 0};  ///< last PG number, [0] = T, [1] = F
    bool has_pg[2] = {false, false};
    bool open = false;     ///< a transaction is open
    bool tainted = false;  ///< an X reading was seen in the open transaction
    bool has_time = false;
    int64_t last_time_ns = 0;  ///< last usable (status not U) reading time in the transaction
    std::vector<Register> registers;
  };

  /// Number of meters known.
  size_t meter_count() const { return meters_.size(); }
  /// The state of `signer`, or nullptr.
  const Meter* find(std::string_view signer) const;
  /// Forgets everything.
  void clear() {
    meters_.clear();
    changed_.clear();
  }

  /// Versioned snapshot (magic "AOCM", version 1), entries sorted by signer: deterministic.
  std::vector<uint8_t> snapshot() const;
  /// Replaces the state with a snapshot; false (state unchanged) if it is malformed.
  bool restore(std::span<const uint8_t> bytes);

  /// Called with one durable entry: a signer and the snapshot of that signer alone.
  using EntryFn = std::function<void(std::string_view signer, std::span<const uint8_t> entry)>;
  /// Calls `fn` once per signer whose record check() may have changed since the last
  /// clear_changed() (or clear() / restore()), in signer order, with a snapshot() holding that
  /// signer alone (count 1: an ordinary "AOCM" snapshot, so restore() reads it too). Does not
  /// forget them.
  void for_each_changed(const EntryFn& fn) const;
  /// Forgets which signers changed (the engine calls it before each batch).
  void clear_changed() { changed_.clear(); }
  /// Merges an entry of for_each_changed(): replaces its signer's record, inserting the signer
  /// if it is new. False, with the state unchanged, if `entry` is not a one-signer "AOCM"
  /// snapshot, or if the signer is new and the state holds `max_meters` already.
  bool merge(std::span<const uint8_t> entry, size_t max_meters);

 private:
  friend class OcmfChecker;
  std::unordered_map<std::string, Meter, StringHash, std::equal_to<>> meters_;
  ChangedKeys changed_;  // signers check() updated since clear_changed()
};

/// The checks (immutable, shareable across threads; the state is not).
class OcmfChecker {
 public:
  /// Checks configured by `config`.
  explicit OcmfChecker(OcmfCheckConfig config = {}) : config_(config) {}

  /// Checks `record` signed by `signer` (ocmf_signer_id) against `state` and updates it.
  /// A pagination replay leaves the state untouched.
  OcmfCheckResult check(OcmfCheckState& state, const OcmfRecord& record,
                        std::string_view signer) const;

  /// The configuration.
  const OcmfCheckConfig& config() const { return config_; }

 private:
  OcmfCheckConfig config_;
};

}  // namespace assay::formats
