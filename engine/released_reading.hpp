#pragma once
/// \file The privacy part of the output stage: for a row whose input record had privacy rules
/// applied (Batch::privacy, set by operators/privacy), the released Reading (fields dropped or
/// pseudonymised), the names of the rules and the SHA-256 of the withheld signed bytes.

#include <flatbuffers/flatbuffers.h>

#include <span>

#include "engine/batch.hpp"

namespace assay::wire {
struct Reading;
}

namespace assay::engine {

/// Parts of a TrustedReading that replace signed_bytes when privacy rules applied.
struct ReleasedParts {
  flatbuffers::Offset<wire::Reading> reading;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> rules;
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> signed_bytes_sha256;
};

/// Builds the released parts of row `r` in `fbb`; `frame_edits` = b.privacy_of_frame(frame).
ReleasedParts encode_released(flatbuffers::FlatBufferBuilder& fbb, const Batch& b, uint32_t r,
                              std::span<const PrivacyEdit> frame_edits);

}  // namespace assay::engine
