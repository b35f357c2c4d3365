#pragma once
/// \file The readings a TrustedReading stands for: itself, or, for a grouped record
/// (engine.trusted_records: grouped; docs/wire-contract.md "Grouped trusted records"), every
/// reading of its group_reading_indexes with the per-reading values of its group_* vectors.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/reading_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::engine {

/// One reading a TrustedReading stands for.
struct TrustedEntry {
  uint32_t reading_index = 0;  ///< index of the reading in the input record
  wire::SignatureVerdict signature_verdict = wire::SignatureVerdict::NotChecked;
  wire::CalibrationVerdict calibration_verdict = wire::CalibrationVerdict::NotChecked;
  wire::DriftLevel drift_level = wire::DriftLevel::NotChecked;
  double drift_statistic = 0;
  wire::AnomalyFlag anomaly_flags = wire::AnomalyFlag::NONE;
  std::string_view calibration_certificate_id;  ///< empty: none (views into the record)
  /// False: the record leaves corrected_value, expanded_uncertainty and coverage_factor to the
  /// reading itself (not corrected); derive_uncorrected() fills them from it.
  bool values_given = true;
  double corrected_value = 0;
  double expanded_uncertainty = 0;
  double coverage_factor = 0;
};

/// The readings `t` (a verified TrustedReading) stands for, in reading order: its own for a
/// per-reading record, the group's for a grouped one. False with *why when its group fields do
/// not fit together (a vector's length differs from group_reading_indexes', the indexes are not
/// ascending, or the first is not reading_index).
bool trusted_entries(const wire::TrustedReading& t, std::vector<TrustedEntry>* out,
                     std::string* why);

/// The readings of signed bytes in Assay's own formats (a SignedReading: one; a SignedBatch:
/// its ReadingBatch's), each buffer through the FlatBuffers Verifier once, at construction;
/// none for other formats (OCMF, SenML/COSE) or malformed bytes. For reading many readings of
/// one record (a grouped record's) without verifying its signed bytes once per reading.
class SignedReadings {
 public:
  /// Verifies and indexes `signed_bytes`, which must outlive this object.
  explicit SignedReadings(std::span<const uint8_t> signed_bytes);
  /// Reading `index`, or null where there is none (see above); points into the signed bytes.
  const wire::Reading* get(uint32_t index) const;

 private:
  const wire::Reading* single_ = nullptr;
  const flatbuffers::Vector<flatbuffers::Offset<wire::Reading>>* batch_ = nullptr;
};

/// Reading `index` of signed bytes in Assay's own formats: SignedReadings(signed_bytes).get(index)
/// (verifies the whole buffer: for one reading; several of one record: SignedReadings).
const wire::Reading* reading_in_signed_bytes(std::span<const uint8_t> signed_bytes, uint32_t index);

/// Fills an entry whose values the record left to its reading (values_given false) as the wire
/// contract says for an uncorrected reading: its value, U = 2 x std_uncertainty, k = 2.
void derive_uncorrected(TrustedEntry& e, const wire::Reading& reading);

}  // namespace assay::engine
