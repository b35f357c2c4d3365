#pragma once
// Decoding test records with an input format, as a source's batch would hold them.
#include <cstdint>
#include <vector>

#include "engine/decode.hpp"

namespace assay::test {

// Fills `b` with one frame per record (a string or a byte vector each) and decodes them with
// `format`; records with more readings than `max_readings` are refused as the engine does.
template <class Records>
engine::Batch& decode_records(engine::Batch& b, const Records& records,
                              const engine::InputFormat& format,
                              uint32_t max_readings = UINT32_MAX) {
  b.clear();
  b.max_readings_per_record = max_readings;
  for (const auto& r : records) {
    engine::Frame f;
    f.offset = static_cast<uint32_t>(b.arena.size());
    f.size = static_cast<uint32_t>(r.size());
    b.arena.insert(b.arena.end(), r.begin(), r.end());
    b.frames.push_back(f);
  }
  engine::decode_batch(b, &format);
  return b;
}

}  // namespace assay::test
