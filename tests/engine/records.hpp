#pragma once
// Builders for wire records used by the engine tests.
#include <cstdint>
#include <string>
#include <vector>

#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"

namespace assay::testing {

inline std::vector<uint8_t> make_reading(const std::string& sensor, uint64_t seq, double value,
                                         int64_t time_ns = 1'700'000'000'000'000'000) {
  flatbuffers::FlatBufferBuilder fbb;
  auto id = fbb.CreateString(sensor);
  auto q = fbb.CreateString("temperature");
  auto u = fbb.CreateString("Cel");
  wire::ReadingBuilder rb(fbb);
  rb.add_sensor_id(id);
  rb.add_seq(seq);
  rb.add_time_ns(time_ns);
  rb.add_quantity(q);
  rb.add_unit(u);
  rb.add_value(value);
  rb.add_std_uncertainty(0.1);
  wire::FinishReadingBuffer(fbb, rb.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

inline std::vector<uint8_t> make_signed(const std::vector<uint8_t>& body, const std::string& key_id,
                                        const std::vector<uint8_t>& sig,
                                        wire::SignatureAlg alg = wire::SignatureAlg::Ed25519,
                                        bool align_body = true) {
  flatbuffers::FlatBufferBuilder fbb;
  if (align_body) fbb.ForceVectorAlignment(body.size(), 1, 8);
  auto b = fbb.CreateVector(body);
  auto k = fbb.CreateString(key_id);
  auto s = fbb.CreateVector(sig);
  wire::SignedReadingBuilder sb(fbb);
  sb.add_body(b);
  sb.add_key_id(k);
  sb.add_alg(alg);
  sb.add_signature(s);
  wire::FinishSignedReadingBuffer(fbb, sb.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

inline std::vector<uint8_t> make_reading_batch(const std::string& sensor, uint64_t first_seq, int n) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Reading>> rs;
  for (int i = 0; i < n; ++i) {
    auto id = fbb.CreateString(sensor);
    wire::ReadingBuilder rb(fbb);
    rb.add_sensor_id(id);
    rb.add_seq(first_seq + i);
    rb.add_value(1.0 + i);
    rs.push_back(rb.Finish());
  }
  auto v = fbb.CreateVector(rs);
  wire::FinishReadingBatchBuffer(fbb, wire::CreateReadingBatch(fbb, v));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace assay::testing
