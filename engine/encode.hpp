#pragma once
/// \file The output stage: turns rows and alerts into TrustedReading, RejectedRecord and
/// Alert buffers (schemas/): one TrustedReading per trusted row (with engine.trusted_records:
/// grouped, per sensor and input record, standing for its rows); one RejectedRecord per input
/// record and reject reason (the readings it stands for listed in it, the payload carried once);
/// one Alert per alert. The outputs of one input record are bounded in size.

#include <string>
#include <vector>

#include "engine/batch.hpp"
#include "engine/operator.hpp"

namespace assay::engine {

/// Static facts the output stage stamps on every record.
struct EncodeContext {
  const PipelineInfo& pipeline;
  /// Stage names by stage index (0 = "decode"), for RejectedRecord.stage.
  const std::vector<std::string>& stage_names;
  int64_t now_ns = 0;
  /// Reserve the chain fields of TrustedReading provenance (prev_record_hash, record_hash:
  /// 32 zero bytes each; chain_index stored as 0) for a sealing operator to patch in place,
  /// and leave kChainHeadroom free bytes before each TrustedReading (engine/provenance_chain).
  bool chain_fields = false;
  /// Largest total size of the outputs of one input record (engine.max_output_bytes_per_record):
  /// beyond it the record's outputs are replaced by one rejected record
  /// (record.output_too_large).
  size_t max_output_bytes_per_record = SIZE_MAX;
  /// engine.signed_bytes: once: the readings of an input record after the first of a sensor
  /// refer to that carrier's signed_bytes (SignedBytesAt::Carrier) instead of repeating them.
  bool signed_bytes_once = false;
  /// engine.trusted_records: grouped: one TrustedReading per sensor and input record, standing
  /// for all its trusted readings there (group_reading_indexes).
  bool grouped = false;
};

/// Encodes every row and alert of `batch` into Batch::outputs (views into Batch::out_arena).
void encode_batch(Batch& batch, const EncodeContext& ctx);

}  // namespace assay::engine
