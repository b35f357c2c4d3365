// connectors/record_json and `assay inspect`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "engine/framing.hpp"
#include "connectors/record_json.hpp"
#include "cli/commands.hpp"
#include "schemas/alert_generated.h"
#include "schemas/calibration_certificate_generated.h"
#include "schemas/checkpoint_generated.h"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "sim/rng.hpp"
#include "sim/simulator.hpp"
#include "sim_test_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace w = assay::wire;
using assay::connectors::record_to_json;
using assay::test::JsonCheck;

std::vector<uint8_t> make_reading(const std::string& sensor_id, double value, uint64_t seq = 42) {
  flatbuffers::FlatBufferBuilder fbb;
  auto sid = fbb.CreateString(sensor_id);
  auto q = fbb.CreateString("temperature");
  auto u = fbb.CreateString("Cel");
  std::vector<uint8_t> fw(32, 0xab);
  auto fwv = fbb.CreateVector(fw);
  w::ReadingBuilder b(fbb);
  b.add_sensor_id(sid);
  b.add_seq(seq);
  b.add_time_ns(1'767'225'600'000'000'000LL);  // 2026-01-01T00:00:00Z
  b.add_quantity(q);
  b.add_unit(u);
  b.add_value(value);
  b.add_std_uncertainty(0.1);
  b.add_firmware_sha256(fwv);
  b.add_kind(w::ReadingKind::ReferenceCheck);
  b.add_reference_value(20);
  w::FinishReadingBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::vector<uint8_t> make_signed(const std::vector<uint8_t>& body) {
  flatbuffers::FlatBufferBuilder fbb;
  auto bv = fbb.CreateVector(body);
  auto kid = fbb.CreateString("s000001-k1");
  std::vector<uint8_t> sig(64, 0x11);
  auto sv = fbb.CreateVector(sig);
  w::FinishSignedReadingBuffer(fbb, w::CreateSignedReading(fbb, bv, kid, w::SignatureAlg::EcdsaP256Sha256, sv));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

TEST(InspectRecordJson, Reading) {
  std::string out;
  const auto r = make_reading("urn:x", 21.5);
  ASSERT_TRUE(record_to_json(r, out)) << out;
  EXPECT_TRUE(JsonCheck::valid(out)) << out;
  EXPECT_EQ(assay::connectors::root_type_name(r), "Reading");
  EXPECT_EQ(out,
            "{\"type\":\"Reading\",\"sensor_id\":\"urn:x\",\"seq\":42,\"time_ns\":1767225600000000000,"
            "\"time_utc\":\"2026-01-01T00:00:00Z\",\"quantity\":\"temperature\",\"unit\":\"Cel\",\"value\":21.5,"
            "\"std_uncertainty\":0.1,\"firmware_sha256\":\"" +
                std::string(64, ' ').replace(0, 64, [] {
                  std::string s;
                  for (int i = 0; i < 32; ++i) s += "ab";
                  return s;
                }()) +
                "\",\"kind\":\"ReferenceCheck\",\"reference_value\":20}");
}

TEST(InspectRecordJson, SignedReadingDecodesBody) {
  std::string out;
  const auto body = make_reading("urn:y", -3.25);
  const auto sr = make_signed(body);
  ASSERT_TRUE(record_to_json(sr, out)) << out;
  EXPECT_TRUE(JsonCheck::valid(out)) << out;
  EXPECT_EQ(out.rfind("{\"type\":\"SignedReading\",\"key_id\":\"s000001-k1\",\"alg\":\"EcdsaP256Sha256\"", 0), 0u)
      << out;
  EXPECT_NE(out.find("\"body\":{\"type\":\"Reading\",\"sensor_id\":\"urn:y\""), std::string::npos);
  std::string body_hex;
  assay::connectors::append_hex(body_hex, body);
  EXPECT_NE(out.find("\"body_hex\":\"" + body_hex + "\""), std::string::npos);
  // A body that is garbage: the outer record is valid, the body is marked invalid.
  const auto bad = make_signed({1, 2, 3, 4, 'A', 'R', 'D', 'G', 9, 9});
  ASSERT_TRUE(record_to_json(bad, out));
  EXPECT_NE(out.find("\"body\":{\"type\":\"invalid\",\"reason\":\"wire.verifier_failed\""), std::string::npos) << out;
  EXPECT_TRUE(JsonCheck::valid(out));
}

TEST(InspectRecordJson, TrustedReadingNested) {
  const auto sr = make_signed(make_reading("urn:z", 1));
  flatbuffers::FlatBufferBuilder fbb;
  fbb.ForceVectorAlignment(sr.size(), 1, 8);
  auto sb = fbb.CreateVector(sr);
  auto sid = fbb.CreateString("urn:z");
  auto topic = fbb.CreateString("raw");
  auto prov = w::CreateProvenance(fbb, topic, 3, 99);
  w::TrustedReadingBuilder b(fbb);
  b.add_signed_bytes(sb);
  b.add_sensor_id(sid);
  b.add_seq(42);
  b.add_signature_verdict(w::SignatureVerdict::Valid);
  b.add_anomaly_flags(w::AnomalyFlag::Spike | w::AnomalyFlag::Replay);
  b.add_corrected_value(std::numeric_limits<double>::quiet_NaN());
  b.add_expanded_uncertainty(std::numeric_limits<double>::infinity());
  b.add_drift_statistic(-std::numeric_limits<double>::infinity());
  b.add_provenance(prov);
  w::FinishTrustedReadingBuffer(fbb, b.Finish());
  std::vector<uint8_t> buf(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  std::string out;
  ASSERT_TRUE(record_to_json(buf, out)) << out;
  EXPECT_TRUE(JsonCheck::valid(out)) << out;
  EXPECT_NE(out.find("\"signed\":{\"type\":\"SignedReading\""), std::string::npos);
  EXPECT_NE(out.find("\"body\":{\"type\":\"Reading\",\"sensor_id\":\"urn:z\""), std::string::npos);
  EXPECT_NE(out.find("\"signature_verdict\":\"Valid\""), std::string::npos);
  EXPECT_NE(out.find("\"anomaly_flags\":33,\"anomaly_flags_names\":[\"Replay\",\"Spike\"]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"corrected_value\":\"NaN\""), std::string::npos);
  EXPECT_NE(out.find("\"expanded_uncertainty\":\"Infinity\""), std::string::npos);
  EXPECT_NE(out.find("\"drift_statistic\":\"-Infinity\""), std::string::npos);
  EXPECT_NE(out.find("\"provenance\":{\"source_topic\":\"raw\",\"source_partition\":3,\"source_offset\":99"),
            std::string::npos);
}

// A grouped record (engine.trusted_records: grouped): its readings expanded under "group";
// values left to the reading say so; inconsistent group fields are named, not read past.
TEST(InspectRecordJson, GroupedTrustedReadingExpandsItsReadings) {
  auto build = [](std::vector<uint32_t> idx) {
    flatbuffers::FlatBufferBuilder fbb;
    auto i = fbb.CreateVector(idx);
    std::vector<w::DriftLevel> dl = {w::DriftLevel::Ok, w::DriftLevel::Alarm, w::DriftLevel::Ok};
    auto d = fbb.CreateVector(dl);
    auto sid = fbb.CreateString("urn:g");
    w::TrustedReadingBuilder b(fbb);
    b.add_sensor_id(sid);
    b.add_reading_index(idx.empty() ? 0 : idx[0]);
    b.add_corrected_value(1.5);
    b.add_group_reading_indexes(i);
    b.add_group_drift_levels(d);
    w::FinishTrustedReadingBuffer(fbb, b.Finish());
    return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  std::string out;
  ASSERT_TRUE(record_to_json(build({0, 1, 4}), out)) << out;
  EXPECT_TRUE(JsonCheck::valid(out)) << out;
  EXPECT_NE(out.find("\"group\":[{\"reading_index\":0,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"reading_index\":4,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"drift_level\":\"Alarm\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"corrected_value\":1.5"), std::string::npos) << out;
  EXPECT_NE(out.find("\"values\":\"from_reading\""), std::string::npos) << out;
  out.clear();
  ASSERT_TRUE(record_to_json(build({0, 1}), out)) << out;  // 3 drift levels for 2 readings
  EXPECT_TRUE(JsonCheck::valid(out)) << out;
  EXPECT_NE(out.find("\"group_error\":\"a group_* vector's length differs"), std::string::npos)
      << out;
}

TEST(InspectRecordJson, OtherRootTypes) {
  std::string out;
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto kind = fbb.CreateString("drift.cusum");
    auto sid = fbb.CreateString("urn:a");
    w::AlertBuilder b(fbb);
    b.add_kind(kind);
    b.add_sensor_id(sid);
    b.add_level(w::AlertLevel::Alarm);
    b.add_time_ns(1'500'000'000);
    w::FinishAlertBuffer(fbb, b.Finish());
    ASSERT_TRUE(record_to_json({fbb.GetBufferPointer(), fbb.GetSize()}, out));
    EXPECT_TRUE(JsonCheck::valid(out)) << out;
    EXPECT_NE(out.find("\"level\":\"Alarm\""), std::string::npos);
    EXPECT_NE(out.find("\"time_ns\":1500000000,\"time_utc\":\"1970-01-01T00:00:01.500000000Z\""), std::string::npos)
        << out;
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto cid = fbb.CreateString("c");
    auto sid = fbb.CreateString("s");
    auto poly = fbb.CreateVector(std::vector<double>{1e-3, 2});
    auto cor = w::CreateCorrection(fbb, 0.5, 1.0, poly);
    w::CalibrationCertificateBuilder b(fbb);
    b.add_certificate_id(cid);
    b.add_sensor_id(sid);
    b.add_correction(cor);
    w::FinishCalibrationCertificateBuffer(fbb, b.Finish());
    ASSERT_TRUE(record_to_json({fbb.GetBufferPointer(), fbb.GetSize()}, out));
    EXPECT_TRUE(JsonCheck::valid(out)) << out;
    EXPECT_NE(out.find("\"correction\":{\"offset\":0.5,\"gain\":1,\"poly\":[0.001,2]}"), std::string::npos) << out;
    EXPECT_NE(out.find("\"mpe_initial\":null"), std::string::npos);
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto reason = fbb.CreateString("signature.bad");
    auto payload = fbb.CreateVector(std::vector<uint8_t>{0xde, 0xad});
    w::RejectedRecordBuilder b(fbb);
    b.add_reason(reason);
    b.add_payload(payload);
    b.add_signature_verdict(w::SignatureVerdict::BadSignature);
    w::FinishRejectedRecordBuffer(fbb, b.Finish());
    ASSERT_TRUE(record_to_json({fbb.GetBufferPointer(), fbb.GetSize()}, out));
    EXPECT_TRUE(JsonCheck::valid(out)) << out;
    EXPECT_NE(out.find("\"payload\":\"dead\",\"payload_decoded\":{\"type\":\"invalid\""), std::string::npos) << out;
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto root = fbb.CreateVector(std::vector<uint8_t>(32, 1));
    w::CheckpointBuilder b(fbb);
    b.add_merkle_root(root);
    b.add_record_count(7);
    w::FinishCheckpointBuffer(fbb, b.Finish());
    ASSERT_TRUE(record_to_json({fbb.GetBufferPointer(), fbb.GetSize()}, out));
    EXPECT_TRUE(JsonCheck::valid(out)) << out;
    EXPECT_NE(out.find("\"type\":\"Checkpoint\""), std::string::npos);
    EXPECT_NE(out.find("\"record_count\":7"), std::string::npos);
  }
}

TEST(InspectRecordJson, StringEscaping) {
  std::string id = "a\"b\\c\n\x01\x7f";
  id += "\xc3\xa9";        // valid UTF-8 (é)
  id += "\xff\xc3";        // invalid bytes
  id += "\xed\xa0\x80";    // surrogate (invalid in UTF-8)
  id += "\xf0\x9f\x98\x80";  // emoji
  std::string out;
  ASSERT_TRUE(record_to_json(make_reading(id, 1), out));
  EXPECT_TRUE(JsonCheck::valid(out)) << out;
  EXPECT_NE(out.find("\"sensor_id\":\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\\u00ff\\u00c3\\u00ed\\u00a0\\u0080"
                     "\xf0\x9f\x98\x80\""),
            std::string::npos)
      << out;
}

TEST(InspectRecordJson, InvalidInputs) {
  std::string out;
  EXPECT_FALSE(record_to_json({}, out));
  EXPECT_EQ(out, "{\"type\":\"invalid\",\"reason\":\"wire.unknown_root\",\"size\":0,\"hex_prefix\":\"\"}");
  const std::vector<uint8_t> junk = {1, 2, 3, 4, 'X', 'X', 'X', 'X', 0, 0};
  EXPECT_FALSE(record_to_json(junk, out));
  EXPECT_NE(out.find("wire.unknown_root"), std::string::npos);
  EXPECT_NE(out.find("\"hex_prefix\":\"0102030458585858"), std::string::npos);
  auto r = make_reading("x", 1);
  r.resize(r.size() - 8);  // cut off the end: offsets point outside
  EXPECT_FALSE(record_to_json(r, out));
  EXPECT_NE(out.find("wire.verifier_failed"), std::string::npos) << out;
  EXPECT_TRUE(JsonCheck::valid(out));
  // Unaligned input is copied, not read in place.
  auto good = make_reading("x", 1);
  std::vector<uint8_t> shifted(good.size() + 1);
  std::copy(good.begin(), good.end(), shifted.begin() + 1);
  EXPECT_TRUE(record_to_json({shifted.data() + 1, good.size()}, out)) << out;
}

// Random bytes and mutated records never crash (run under ASan/UBSan) and always give valid JSON.
TEST(InspectRecordJson, FuzzRandomAndMutated) {
  assay::sim::Rng rng(12345, 1);
  const char* ids[] = {"ARDG", "ABAT", "ASRD", "ASBT", "ATRD", "AREJ", "AALR", "ACAL", "ACKP", "ZZZZ"};
  // Seeds: real records from the simulator.
  assay::sim::SimConfig c;
  c.sensors = 8;
  c.records = 64;
  c.start_time_ns = 0;
  c.batch_fraction = 0.5;
  assay::sim::MemoryFrameSink sink;
  assay::sim::SimSummary sum;
  std::string err;
  ASSERT_TRUE(assay::sim::run_simulation(c, sink, sum, err)) << err;
  std::vector<std::vector<uint8_t>> seeds = sink.frames;
  seeds.push_back(make_signed(make_reading("q", 2)));
  std::string out;
  size_t valid = 0;
  // ASSAY_FUZZ_ITERS raises the count for longer runs (e.g. in the sanitizer build).
  const char* env = std::getenv("ASSAY_FUZZ_ITERS");
  const int iters = env != nullptr ? std::atoi(env) : 30000;
  for (int iter = 0; iter < iters; ++iter) {
    std::vector<uint8_t> buf;
    if (iter % 2 == 0) {
      buf.resize(rng.below(400));
      rng.bytes(buf.data(), buf.size());
      if (buf.size() >= 8 && rng.chance(0.8)) std::memcpy(buf.data() + 4, ids[rng.below(10)], 4);
      if (buf.size() >= 8 && rng.chance(0.5)) {
        const uint32_t root = static_cast<uint32_t>(rng.below(buf.size()));
        std::memcpy(buf.data(), &root, 4);
      }
    } else {
      buf = seeds[rng.below(seeds.size())];
      const int flips = 1 + static_cast<int>(rng.below(8));
      for (int k = 0; k < flips; ++k) buf[rng.below(buf.size())] ^= static_cast<uint8_t>(1 + rng.below(255));
      if (rng.chance(0.2)) buf.resize(rng.below(buf.size() + 1));
    }
    const bool ok = record_to_json(buf, out);
    valid += ok ? 1 : 0;
    ASSERT_TRUE(JsonCheck::valid(out)) << "iteration " << iter << ": " << out;
    if (!ok) {
      ASSERT_EQ(out.rfind("{\"type\":\"invalid\"", 0), 0u);
    }
  }
  for (const auto& s : seeds) {
    ASSERT_TRUE(record_to_json(s, out)) << out;
    ASSERT_TRUE(JsonCheck::valid(out)) << out;
  }
  std::printf("fuzz: %zu of %d mutated/random buffers verified\n", valid, iters);
}

TEST(InspectCommand, PrintsOneLinePerFrameAndMarksGarbage) {
  const fs::path dir = assay::test::temp_dir("inspect");
  assay::sim::SimConfig c;
  c.sensors = 5;
  c.records = 40;
  c.start_time_ns = 0;
  assay::sim::MemoryFrameSink sink;
  assay::sim::SimSummary sum;
  std::string err;
  ASSERT_TRUE(assay::sim::run_simulation(c, sink, sum, err)) << err;
  const fs::path file = dir / "records.bin";
  {
    assay::engine::FrameWriter w;
    ASSERT_TRUE(w.open(file.string()));
    for (const auto& f : sink.frames) ASSERT_TRUE(w.write(f));
    const std::vector<uint8_t> garbage = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5};
    ASSERT_TRUE(w.write(garbage));
    // A truncated frame: header says 1000 bytes, 3 follow.
    const std::vector<uint8_t> trunc = {0xe8, 0x03, 0, 0, 'a', 'b', 'c'};
    ASSERT_TRUE(w.write_raw(trunc));
    ASSERT_TRUE(w.close());
  }
  std::string out;
  ASSERT_EQ(assay::test::run_capture(assay::cli::cmd_inspect, {"inspect", file.string()}, out), 0);
  auto lines = assay::test::split_lines(out);
  ASSERT_EQ(lines.size(), sink.frames.size() + 2);
  for (size_t i = 0; i < sink.frames.size(); ++i) {
    EXPECT_TRUE(JsonCheck::valid(lines[i])) << lines[i];
    EXPECT_TRUE(lines[i].rfind("{\"type\":\"SignedReading\"", 0) == 0 ||
                lines[i].rfind("{\"type\":\"SignedBatch\"", 0) == 0)
        << lines[i];
  }
  EXPECT_EQ(lines[sink.frames.size()].rfind("{\"type\":\"invalid\",\"reason\":\"wire.unknown_root\"", 0), 0u);
  EXPECT_EQ(lines.back().rfind("{\"type\":\"invalid\",\"reason\":\"frame.truncated\",\"size\":3,\"declared_size\":1000", 0),
            0u)
      << lines.back();
  EXPECT_TRUE(JsonCheck::valid(lines.back()));

  ASSERT_EQ(assay::test::run_capture(assay::cli::cmd_inspect,
                                     {"inspect", file.string(), "--skip", "2", "--limit", "3"}, out),
            0);
  lines = assay::test::split_lines(out);
  ASSERT_EQ(lines.size(), 3u);
  std::string third;
  assay::connectors::record_to_json(sink.frames[2], third);
  EXPECT_EQ(lines[0], third);
}

TEST(InspectCommand, TooLargeFrame) {
  const fs::path dir = assay::test::temp_dir("inspect-large");
  const fs::path file = dir / "big.bin";
  {
    assay::engine::FrameWriter w;
    ASSERT_TRUE(w.open(file.string()));
    ASSERT_TRUE(w.write(std::vector<uint8_t>((16u << 20) + 10, 7)));
    ASSERT_TRUE(w.write(make_reading("after", 1)));
    ASSERT_TRUE(w.close());
  }
  std::string out;
  ASSERT_EQ(assay::test::run_capture(assay::cli::cmd_inspect, {"inspect", file.string()}, out), 0);
  const auto lines = assay::test::split_lines(out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("{\"type\":\"invalid\",\"reason\":\"frame.too_large\"", 0), 0u) << lines[0].substr(0, 200);
  EXPECT_EQ(lines[1].rfind("{\"type\":\"Reading\",\"sensor_id\":\"after\"", 0), 0u);
}

TEST(InspectCommand, ExitCodes) {
  std::string out;
  EXPECT_EQ(assay::test::run_capture(assay::cli::cmd_inspect, {"inspect", "--help"}, out), 0);
  EXPECT_NE(out.find("usage: assay inspect"), std::string::npos);
  EXPECT_EQ(assay::test::run_cmd(assay::cli::cmd_inspect, {"inspect"}), 2);
  EXPECT_EQ(assay::test::run_cmd(assay::cli::cmd_inspect, {"inspect", "x", "--limit", "-1"}), 2);
  EXPECT_EQ(assay::test::run_cmd(assay::cli::cmd_inspect, {"inspect", "/nonexistent/file.bin"}), 1);
}

}  // namespace
