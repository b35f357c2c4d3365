#include "connectors/format_rows.hpp"

#include <cstring>

namespace assay::connectors {

size_t append_finished(std::vector<uint8_t>& blob, const flatbuffers::FlatBufferBuilder& fbb) {
  const size_t at = (blob.size() + 7) & ~size_t{7};
  blob.resize(at + fbb.GetSize());
  std::memcpy(blob.data() + at, fbb.GetBufferPointer(), fbb.GetSize());
  return at;
}

const std::vector<uint8_t>& add_record_rows(engine::Batch& batch, uint32_t frame,
                                            std::vector<uint8_t>&& blob,
                                            const std::vector<size_t>& reading_at) {
  batch.built.push_back(std::move(blob));
  const std::vector<uint8_t>& kept = batch.built.back();
  for (uint32_t k = 0; k < reading_at.size(); ++k)
    batch.add_row(frame, k, wire::GetReading(kept.data() + reading_at[k]));
  return kept;
}

}  // namespace assay::connectors
