#pragma once
/// \file What the input formats of instrument records (`ocmf`, `senml-cose`) share when they
/// build rows: attributes of a Reading under construction, finished Reading buffers appended to
/// the record's one buffer (Batch::built), and the rows of a decoded record.

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/batch.hpp"
#include "schemas/reading_generated.h"

namespace assay::connectors {

/// Attributes of a Reading under construction.
using AttrOffsets = std::vector<flatbuffers::Offset<wire::Attribute>>;

/// Appends the attribute `key` = `value`.
inline void add_attribute(flatbuffers::FlatBufferBuilder& fbb, AttrOffsets& out,
                          std::string_view key, std::string_view value) {
  out.push_back(wire::CreateAttribute(fbb, fbb.CreateString(key.data(), key.size()),
                                      fbb.CreateString(value.data(), value.size())));
}

/// Appends the finished buffer of `fbb` to `blob` at an 8-aligned offset; returns the offset.
size_t append_finished(std::vector<uint8_t>& blob, const flatbuffers::FlatBufferBuilder& fbb);

/// Moves a decoded record's buffer into `batch.built` (its data keeps its address) and adds one
/// row per Reading at `reading_at` (offsets in the buffer). Returns the kept buffer, for the
/// frame's envelope views.
const std::vector<uint8_t>& add_record_rows(engine::Batch& batch, uint32_t frame,
                                            std::vector<uint8_t>&& blob,
                                            const std::vector<size_t>& reading_at);

}  // namespace assay::connectors
