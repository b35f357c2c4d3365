#pragma once
// Input records shared by the pipeline benchmarks: SignedReadings of 1,000 sensors with a
// fixed (not verifiable) Ed25519-sized signature, for measuring everything but the crypto.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "schemas/reading_generated.h"
#include "schemas/signed_reading_generated.h"

namespace assay::benchdata {

/// `n` SignedReading buffers (sensor i % 1000, seq i).
inline std::vector<std::vector<uint8_t>> make_records(size_t n) {
  std::vector<std::vector<uint8_t>> out;
  std::mt19937_64 rng(1);
  for (size_t i = 0; i < n; ++i) {
    flatbuffers::FlatBufferBuilder rb;
    auto id = rb.CreateString("urn:assay:bench:sensor:" + std::to_string(i % 1000));
    auto q = rb.CreateString("temperature");
    auto u = rb.CreateString("Cel");
    std::vector<uint8_t> fw(32, 7);
    auto fwv = rb.CreateVector(fw);
    wire::ReadingBuilder r(rb);
    r.add_sensor_id(id);
    r.add_seq(i);
    r.add_time_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(i));
    r.add_quantity(q);
    r.add_unit(u);
    r.add_value(20.0 + (rng() % 1000) / 100.0);
    r.add_std_uncertainty(0.05);
    r.add_firmware_sha256(fwv);
    wire::FinishReadingBuffer(rb, r.Finish());
    flatbuffers::FlatBufferBuilder sb;
    sb.ForceVectorAlignment(rb.GetSize(), 1, 8);
    auto body = sb.CreateVector(rb.GetBufferPointer(), rb.GetSize());
    auto key = sb.CreateString("k" + std::to_string(i % 1000));
    auto sig = sb.CreateVector(std::vector<uint8_t>(64, 3));
    wire::FinishSignedReadingBuffer(
        sb, wire::CreateSignedReading(sb, body, key, wire::SignatureAlg::Ed25519, sig));
    out.emplace_back(sb.GetBufferPointer(), sb.GetBufferPointer() + sb.GetSize());
  }
  return out;
}

}  // namespace assay::benchdata
