#pragma once
/// \file A Batch: input frames referenced zero-copy in one arena, the readings decoded from
/// them as rows with verdict columns, and a selection vector of the rows still in play.
/// Operators filter by shrinking the selection vector; payload bytes are never copied.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/reject.hpp"
#include "engine/types.hpp"

namespace assay::wire {
struct Reading;
}

namespace assay::engine {

/// Kind of an input record, from its FlatBuffers file identifier.
enum class RecordKind : uint8_t {
  kUnknown = 0,
  kSignedReading,  ///< "ASRD"
  kSignedBatch,    ///< "ASBT"
  kReading,        ///< "ARDG" (unsigned)
  kReadingBatch,   ///< "ABAT" (unsigned)
  kForeign,        ///< a signed record of another format, decoded by an InputFormat (OCMF ...)
};

/// Where a frame's record time (Frame::record_time_ns) comes from.
enum class RecordTimeType : uint8_t {
  kNone = 0,       ///< no record time (file input, memory sources): checks that need it are off
  kCreateTime,     ///< Kafka CreateTime: set by the producer (a forger can choose it)
  kLogAppendTime,  ///< Kafka LogAppendTime: set by the broker when it appended the record
};

/// One input record as received: a view into the batch arena plus its source position.
struct Frame {
  uint32_t offset = 0;  ///< start of the bytes in Batch::arena
  uint32_t size = 0;
  Offset source_offset{0};
  /// Set by the source when the frame is already known to be bad (truncated, too large).
  RejectCode pre_reject = RejectCode::kNone;
  RecordKind kind = RecordKind::kUnknown;  ///< set by decode
  // ---- the envelope, decoded once (by decode, or by the source's input format) ----------
  /// The exact bytes the signature covers (a SignedReading/SignedBatch body, an OCMF payload,
  /// a COSE Sig_structure ...): a view into Batch::arena, Batch::aux or Batch::built. For
  /// unsigned input, the bytes the readings were decoded from.
  std::span<const uint8_t> signed_bytes;
  /// Key id named by the record (empty for unsigned input).
  std::string_view key_id;
  /// The signature (empty for unsigned input).
  std::span<const uint8_t> signature;
  /// Its algorithm (wire::SignatureAlg).
  uint8_t alg = 0;
  /// Signature encoding: true for DER (ECDSA as OCMF sends it), false for raw r||s / 64 bytes.
  bool signature_der = false;
  /// False when the format has no per-sensor sequence number (SenML): the readings' `seq` is
  /// then not a counter, and sequence checks (anomaly's replay and gap) skip them; the format's
  /// own replay protection applies instead (docs/senml-cose.md).
  bool sequenced = true;
  /// The record's time, set by the source from the input alone (never the wall clock): the
  /// Kafka message timestamp, 0 when the source has none (record_time_type kNone). Operators
  /// take their notion of "now" from it, so that reprocessing gives the live run's verdicts
  /// (docs/drift-anomaly.md, "Time").
  int64_t record_time_ns = 0;
  /// What record_time_ns is.
  RecordTimeType record_time_type = RecordTimeType::kNone;
};

/// An alert raised by an operator while processing a batch (encoded by the output stage).
struct AlertEvent {
  std::string sensor_id;
  std::string kind;  ///< e.g. "drift.cusum"
  uint8_t level = 0;
  uint8_t previous_level = 0;
  double statistic = 0;
  std::string message;
  uint64_t trigger_seq = 0;
  int64_t trigger_time_ns = 0;
  uint32_t frame = 0;  ///< frame that triggered it (for source position and offset tracking)
};

/// What a privacy rule did to one field of one row (operators/privacy.hpp). Rows without an
/// edit have none; the encoder builds the released Reading from the edits.
struct PrivacyEdit {
  uint32_t frame = 0;          ///< frame of the row
  uint32_t row = 0;            ///< row the edit applies to
  uint32_t attr = UINT32_MAX;  ///< index in Reading.attributes; UINT32_MAX = sensor_id
  bool drop = false;           ///< true: field removed; false: value replaced by pseudonym
  std::string_view rule;       ///< rule name (owned by the operator, which outlives the batch)
  std::array<char, 64> pseudonym{};  ///< hex HMAC-SHA256 (if !drop)
  /// SHA-256 of the frame's bytes (computed once per frame; the same in each of its edits).
  std::array<uint8_t, 32> frame_sha256{};
};

/// Destination of an output record.
enum class Route : uint8_t {
  kTrusted = 0,
  kRejected = 1,
  kAlerts = 2,
  kAttestations = 3,
  kVerifications = 4,  ///< e-verification results (docs/metrology-cloud.md)
};
/// Number of routes.
inline constexpr size_t kRouteCount = 5;
/// "trusted", "rejected", "alerts", "attestations", "verifications".
std::string_view route_name(Route r);

/// An encoded output record (view into Batch::out_arena).
struct OutputRecord {
  Route route = Route::kTrusted;
  uint32_t frame = 0;  ///< input frame it derives from
  uint32_t offset = 0;
  uint32_t size = 0;
  uint32_t row = 0;  ///< (first) row it derives from (UINT32_MAX for alerts)
  RejectCode reason = RejectCode::kNone;
  uint32_t readings = 1;       ///< readings it accounts for (0 for alerts and checkpoints)
  uint32_t side = UINT32_MAX;  ///< index into Batch::side_records for an operator's own record
  /// A grouped TrustedReading whose readings' verdicts differ (the verdict header says so).
  bool mixed = false;
};

/// A record an operator produced already encoded, for a route of its own (e.g. an
/// e-verification result on `verifications`). The output stage writes it with the batch,
/// offset-tracked as an output of `frame`.
struct SideRecord {
  Route route = Route::kAlerts;
  uint32_t frame = 0;          ///< input frame it is accounted to
  std::vector<uint8_t> bytes;  ///< one finished FlatBuffers buffer
  std::string key;             ///< message key on keyed sinks (e.g. the instrument id)
};

/// A unit of work flowing through the pipeline. All frames belong to one source partition.
class Batch {
 public:
  // ---- input -------------------------------------------------------------------------
  /// Owns the bytes of every frame.
  std::vector<uint8_t> arena;
  std::vector<Frame> frames;
  /// 8-byte aligned copies of signed bodies that arrived misaligned (rare).
  std::vector<uint64_t> aux;
  /// Buffers an input format built (FlatBuffers Readings decoded from a foreign record, signed
  /// structures); rows and envelopes point into them (each buffer keeps its address).
  std::vector<std::vector<uint8_t>> built;
  /// Largest number of readings one input record may expand into (engine.max_readings_per_record).
  uint32_t max_readings_per_record = UINT32_MAX;
  /// Source topic (or file path) and partition of every frame.
  std::string topic;
  Partition partition{0};
  /// Monotonic batch number assigned by the runner.
  uint64_t sequence = 0;
  /// Ownership epoch of the partition when the batch was read (see SourceHost::revoke).
  uint64_t epoch = 0;
  /// Time the source produced the batch (for latency), monotonic ns.
  int64_t created_ns = 0;

  // ---- rows (one per reading, or one per undecodable frame) ----------------------------
  std::vector<uint32_t> row_frame;                ///< frame index of the row
  std::vector<uint32_t> row_index;                ///< index of the reading inside the frame
  std::vector<const wire::Reading*> row_reading;  ///< decoded reading (nullptr if none)
  std::vector<uint8_t> row_signature;             ///< wire::SignatureVerdict
  std::vector<uint8_t> row_calibration;           ///< wire::CalibrationVerdict
  std::vector<uint8_t> row_drift;                 ///< wire::DriftLevel
  std::vector<uint32_t> row_anomaly;              ///< wire::AnomalyFlag bits
  std::vector<double> row_corrected;              ///< corrected value
  std::vector<double> row_expanded_unc;           ///< expanded uncertainty U
  std::vector<double> row_coverage;               ///< coverage factor k
  /// Maximum permissible error (in-service) at the reading's value, from its certificate
  /// (set by `calibration`; 0 = unknown). Used by `drift` for reference checks and groups.
  std::vector<double> row_mpe;
  std::vector<double> row_drift_stat;         ///< drift statistic
  std::vector<std::string_view> row_cert_id;  ///< calibration certificate id (static storage)
  std::vector<RejectCode> row_reject;         ///< kNone while the row is in play
  std::vector<uint8_t> row_reject_stage;      ///< stage index that rejected (0 = decode)
  /// Calls f(column) for each per-row column above: the one list of them (add_row() and clear()
  /// use it; a new verdict column is declared above and named here, then encoded).
  template <class F>
  void for_each_row_column(F&& f) {
    f(row_frame), f(row_index), f(row_reading), f(row_signature), f(row_calibration);
    f(row_drift), f(row_anomaly), f(row_corrected), f(row_expanded_unc), f(row_coverage);
    f(row_mpe), f(row_drift_stat), f(row_cert_id), f(row_reject), f(row_reject_stage);
  }
  /// Selection vector: indices of rows still in play, ascending.
  std::vector<uint32_t> sel;
  /// Privacy side table (set by `privacy`): edits ordered by frame, then row.
  std::vector<PrivacyEdit> privacy;

  // ---- side outputs ------------------------------------------------------------------
  std::vector<AlertEvent> alerts;
  /// Encoded records of operators for routes of their own (written after the alerts).
  std::vector<SideRecord> side_records;
  std::vector<uint8_t> out_arena;
  std::vector<OutputRecord> outputs;

  // ---- durable state (docs/state.md) -------------------------------------------------
  /// One changed state entry of a stateful operator, bytes in state_arena.
  struct StateOut {
    uint16_t op = 0;  ///< operator index in the pipeline
    uint32_t key_offset = 0, key_size = 0, entry_offset = 0, entry_size = 0;
  };
  /// Entries changed by this batch, written to the state store with its outputs.
  std::vector<StateOut> state_out;
  /// Bytes of state_out's keys and entries.
  std::vector<uint8_t> state_arena;

  /// Bytes of frame `f`.
  std::span<const uint8_t> frame_bytes(uint32_t f) const {
    return {arena.data() + frames[f].offset, frames[f].size};
  }
  /// The bytes frame `f`'s signature covers.
  std::span<const uint8_t> signed_bytes(uint32_t f) const { return frames[f].signed_bytes; }
  /// Number of rows.
  size_t row_count() const { return row_frame.size(); }
  /// Privacy edits of every row of frame `f` (empty if no rule applied to it).
  std::span<const PrivacyEdit> privacy_of_frame(uint32_t f) const;
  /// Key of a row's output (its sensor id, or the sensor id's pseudonym); empty if none.
  std::string_view row_key(uint32_t row) const;

  /// Appends a row for frame `f`, reading index `i`, with neutral verdicts.
  uint32_t add_row(uint32_t f, uint32_t i, const wire::Reading* reading);
  /// Marks a row rejected by `stage`; it leaves the selection at the next compact_selection().
  void reject_row(uint32_t row, RejectCode code, uint8_t stage) {
    if (row_reject[row] == RejectCode::kNone) {
      row_reject[row] = code;
      row_reject_stage[row] = stage;
    }
  }
  /// Drops rejected rows from the selection vector (no payload is touched).
  void compact_selection();
  /// Resets for reuse, keeping capacity.
  void clear();
};

}  // namespace assay::engine
