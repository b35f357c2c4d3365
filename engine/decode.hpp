#pragma once
/// \file The decode stage: every input frame passes the FlatBuffers Verifier (outer buffer,
/// then the signed body) before any field is read, and is expanded into rows: one per
/// reading, or a single rejected row for a frame that cannot be decoded.

#include "engine/batch.hpp"
#include "engine/metrics.hpp"

namespace assay::engine {

/// Stage index of decode in Batch::row_reject_stage.
inline constexpr uint8_t kDecodeStage = 0;

/// Detects the record kind from the 4-byte file identifier (no other bytes are read).
RecordKind detect_kind(std::span<const uint8_t> bytes);

/// Verifies and decodes every frame of `batch` into rows. Frames already marked by the
/// source (pre_reject) become rejected rows. Returns the number of rows created.
size_t decode_batch(Batch& batch);

}  // namespace assay::engine
