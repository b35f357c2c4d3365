// End-to-end tests of a pipeline built from YAML over files: accounting, garbage input,
// config errors with locations.
#include "registries/pipeline.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "connectors/builtin.hpp"
#include "engine/framing.hpp"
#include "engine/runner.hpp"
#include "operators/builtin.hpp"
#include "records.hpp"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::engine {
namespace {

namespace fs = std::filesystem;

Registries registries() {
  Registries r;
  operators::register_builtin_operators(r.operators);
  connectors::register_builtin_connectors(r);
  registries::register_sections(r);
  return r;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("assay-test-" + std::to_string(getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::vector<uint8_t>> read_frames(const fs::path& p) {
  return engine::read_frame_file(p.string());
}

std::string pipeline_yaml(const fs::path& dir, const std::string& extra = "") {
  return "name: test\n"
         "input: {type: file, path: " +
         (dir / "in.asy").string() +
         "}\n"
         "routes:\n"
         "  trusted: {type: file, path: " +
         (dir / "trusted.asy").string() +
         "}\n"
         "  rejected: {type: file, path: " +
         (dir / "rejected.asy").string() +
         "}\n"
         "engine: {batch_size: 64, max_in_flight: 4}\n" +
         extra;
}

// Runs pipeline_yaml(dir) (the file input dir/in.asy, no operators) to its end.
RunSummary run_default_pipeline(const fs::path& dir) {
  Metrics metrics;
  auto reg = registries();
  const std::string yaml = pipeline_yaml(dir);
  auto p =
      build_pipeline(ConfigNode::load_string(yaml, (dir / "p.yaml").string()), yaml, reg, metrics);
  Runner runner(*p, metrics);
  return runner.run();
}

TEST(Pipeline, GarbageMixedInIsRejectedAndEveryRecordIsAccountedFor) {
  TempDir tmp;
  std::mt19937_64 rng(7);
  engine::FrameWriter w;
  ASSERT_TRUE(w.open((tmp.path / "in.asy").string()));
  int good = 0, garbage = 0;
  for (int i = 0; i < 3000; ++i) {
    if (rng() % 10 == 0) {
      std::vector<uint8_t> g(1 + rng() % 300);
      for (auto& x : g) x = static_cast<uint8_t>(rng());
      ASSERT_TRUE(w.write(g));
      ++garbage;
    } else {
      ASSERT_TRUE(w.write(testing::make_reading("urn:s:" + std::to_string(i % 17), i, i * 0.5)));
      ++good;
    }
  }
  // One oversized frame (over max_record_bytes) and a truncated frame at the end.
  ASSERT_TRUE(w.write(std::vector<uint8_t>(5000, 1)));
  const uint8_t trunc[] = {100, 0, 0, 0, 1, 2, 3};
  ASSERT_TRUE(w.write_raw(trunc));
  ASSERT_TRUE(w.close());

  Metrics metrics;
  auto reg = registries();
  const std::string yaml = pipeline_yaml(tmp.path, "");
  auto root = ConfigNode::load_string(
      yaml.substr(0, yaml.find("engine:")) +
          "engine: {batch_size: 64, max_in_flight: 4, max_record_bytes: 4096}\n",
      (tmp.path / "p.yaml").string());
  auto p = build_pipeline(root, yaml, reg, metrics);
  Runner runner(*p, metrics);
  const RunSummary s = runner.run();
  ASSERT_TRUE(s.ok) << s.error;
  const uint64_t frames = 3000 + 2;
  EXPECT_EQ(s.frames_in, frames);
  EXPECT_EQ(s.rows_in, frames);
  EXPECT_EQ(s.trusted, static_cast<uint64_t>(good));
  EXPECT_EQ(s.rejected, static_cast<uint64_t>(garbage) + 2);
  EXPECT_EQ(s.rows_in, s.trusted + s.rejected);
  EXPECT_EQ(s.rejected_by_reason.at("frame.too_large"), 1u);
  EXPECT_EQ(s.rejected_by_reason.at("frame.truncated"), 1u);

  // Outputs on disk match the summary, in input order, with provenance and reasons.
  const auto trusted = read_frames(tmp.path / "trusted.asy");
  const auto rejected = read_frames(tmp.path / "rejected.asy");
  ASSERT_EQ(trusted.size(), s.trusted);
  ASSERT_EQ(rejected.size(), s.rejected);
  int64_t last_offset = -1;
  for (const auto& t : trusted) {
    flatbuffers::Verifier v(t.data(), t.size());
    ASSERT_TRUE(wire::VerifyTrustedReadingBuffer(v));
    const auto* tr = wire::GetTrustedReading(t.data());
    EXPECT_GT(tr->provenance()->source_offset(), last_offset);  // order preserved
    last_offset = tr->provenance()->source_offset();
    EXPECT_EQ(tr->provenance()->pipeline_name()->str(), "test");
    EXPECT_EQ(tr->provenance()->config_sha256()->size(), 32u);
    ASSERT_NE(tr->signed_bytes(), nullptr);
  }
  size_t unknown_root = 0, verifier = 0;
  for (const auto& r : rejected) {
    flatbuffers::Verifier v(r.data(), r.size());
    ASSERT_TRUE(wire::VerifyRejectedRecordBuffer(v));
    const auto* rr = wire::GetRejectedRecord(r.data());
    EXPECT_EQ(rr->stage()->str(), "decode");
    const std::string reason = rr->reason()->str();
    unknown_root += reason == "wire.unknown_root";
    verifier += reason == "wire.verifier_failed";
  }
  EXPECT_EQ(unknown_root + verifier + 2, rejected.size());

  // Metrics say the same.
  const std::string text = metrics.serialize();
  EXPECT_NE(text.find("assay_route_records_total{pipeline=\"test\",route=\"trusted\"} " +
                      std::to_string(s.trusted)),
            std::string::npos);
  EXPECT_NE(text.find("assay_input_readings_total{pipeline=\"test\"} " + std::to_string(s.rows_in)),
            std::string::npos);
}

// A TrustedReading refers to the sensor id and key id inside its signed_bytes instead of
// writing them twice, wherever the input's strings are aligned; the values read back are the
// input's either way, and every output passes the Verifier.
TEST(Pipeline, TrustedReadingSharesStringsWithItsSignedBytes) {
  TempDir tmp;
  engine::FrameWriter w;
  ASSERT_TRUE(w.open((tmp.path / "in.asy").string()));
  const std::vector<uint8_t> sig(64, 9);
  for (int i = 0; i < 40; ++i) {
    const auto body =
        testing::make_reading("urn:s:" + std::string(static_cast<size_t>(i), 'x'), i, 1.5);
    // Every other record with its body not 8-aligned in the frame.
    ASSERT_TRUE(w.write(testing::make_signed(body, "key-" + std::to_string(i), sig,
                                             wire::SignatureAlg::Ed25519, i % 2 == 0)));
  }
  ASSERT_TRUE(w.write(testing::make_reading_batch("urn:batch", 100, 3)));
  ASSERT_TRUE(w.close());
  const RunSummary s = run_default_pipeline(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const auto trusted = read_frames(tmp.path / "trusted.asy");
  ASSERT_EQ(trusted.size(), 43u);
  size_t shared_sensor = 0, shared_key = 0;
  for (size_t i = 0; i < trusted.size(); ++i) {
    const auto& t = trusted[i];
    flatbuffers::Verifier v(t.data(), t.size());
    ASSERT_TRUE(wire::VerifyTrustedReadingBuffer(v)) << i;
    const auto* tr = wire::GetTrustedReading(t.data());
    const auto* sb = tr->signed_bytes();
    if (i > 40) {  // the batch's later readings refer to its first (engine.signed_bytes: once)
      EXPECT_EQ(sb, nullptr) << i;
      EXPECT_EQ(tr->signed_bytes_at(), wire::SignedBytesAt::Carrier) << i;
      EXPECT_EQ(tr->sensor_id()->str(), "urn:batch");
      EXPECT_EQ(tr->reading_index(), i - 40);
      continue;
    }
    ASSERT_NE(sb, nullptr);
    auto inside = [&](const flatbuffers::String* str) {
      return str->data() > reinterpret_cast<const char*>(sb->data()) &&
             str->data() + str->size() < reinterpret_cast<const char*>(sb->data()) + sb->size();
    };
    if (i < 40) {
      const auto* sr = wire::GetSignedReading(sb->data());
      const auto* rd = flatbuffers::GetRoot<wire::Reading>(sr->body()->data());
      EXPECT_EQ(tr->sensor_id()->str(), rd->sensor_id()->str()) << i;
      EXPECT_EQ(tr->provenance()->key_id()->str(), "key-" + std::to_string(i));
      shared_sensor += inside(tr->sensor_id());
      shared_key += inside(tr->provenance()->key_id());
    } else {
      EXPECT_EQ(tr->sensor_id()->str(), "urn:batch");
      EXPECT_EQ(tr->reading_index(), i - 40);
      EXPECT_TRUE(inside(tr->sensor_id()));
      EXPECT_EQ(tr->provenance()->key_id(), nullptr);  // unsigned input
    }
  }
  // The key ids are always 4-aligned in the input; the sensor ids wherever the body is.
  EXPECT_EQ(shared_key, 40u);
  EXPECT_GE(shared_sensor, 20u);
}

// engine.signed_bytes: once, in a record with readings of many sensors: one carrier per sensor
// (its first trusted reading), every later reading of that sensor a reference (more sensors
// than the short list the encoder scans, so its set is used too).
TEST(Pipeline, SignedBytesOnceCarrierPerSensorOfARecord) {
  TempDir tmp;
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Reading>> rs;
  for (int round = 0; round < 3; ++round)
    for (int s = 0; s < 50; ++s) {
      auto id = fbb.CreateString("urn:s:" + std::to_string(s));
      wire::ReadingBuilder rb(fbb);
      rb.add_sensor_id(id);
      rb.add_seq(static_cast<uint64_t>(round));
      rb.add_value(1.0);
      rs.push_back(rb.Finish());
    }
  wire::FinishReadingBatchBuffer(fbb, wire::CreateReadingBatch(fbb, fbb.CreateVector(rs)));
  engine::FrameWriter w;
  ASSERT_TRUE(w.open((tmp.path / "in.asy").string()));
  ASSERT_TRUE(w.write({fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}));
  ASSERT_TRUE(w.close());
  const RunSummary s = run_default_pipeline(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const auto trusted = read_frames(tmp.path / "trusted.asy");
  ASSERT_EQ(trusted.size(), 150u);
  std::set<std::string> carried;
  size_t references = 0;
  for (size_t i = 0; i < trusted.size(); ++i) {
    const auto* tr = wire::GetTrustedReading(trusted[i].data());
    const std::string sensor = tr->sensor_id()->str();
    if (tr->signed_bytes() != nullptr) {
      EXPECT_LT(i, 50u) << sensor;                 // the first reading of each sensor
      EXPECT_TRUE(carried.insert(sensor).second);  // once per sensor
    } else {
      EXPECT_EQ(tr->signed_bytes_at(), wire::SignedBytesAt::Carrier);
      EXPECT_TRUE(carried.count(sensor)) << sensor;  // after its carrier
      ++references;
    }
  }
  EXPECT_EQ(carried.size(), 50u);
  EXPECT_EQ(references, 100u);
}

TEST(Pipeline, StopRequestDrainsWithoutLosingAccounting) {
  TempDir tmp;
  engine::FrameWriter w;
  ASSERT_TRUE(w.open((tmp.path / "in.asy").string()));
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(w.write(testing::make_reading("urn:s", i, 1.0)));
  ASSERT_TRUE(w.close());
  Metrics metrics;
  auto reg = registries();
  const std::string yaml = pipeline_yaml(tmp.path);
  auto p = build_pipeline(ConfigNode::load_string(yaml, "p.yaml"), yaml, reg, metrics);
  Runner runner(*p, metrics);
  runner.request_stop();  // stop before the first batch: nothing processed, clean exit
  const RunSummary s = runner.run();
  EXPECT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.rows_in, s.trusted + s.rejected);
  EXPECT_LT(s.frames_in, 20000u);
}

struct BadConfig {
  const char* yaml;
  int line, column;
  const char* key;
  const char* message_part;
};

TEST(Pipeline, BadConfigsAreRefusedWithLocationAndKey) {
  const BadConfig cases[] = {
      {"name: x\ninput: {type: file, path: a}\nroutes:\n  trusted: {type: file, path: t}\n"
       "  rejected: {type: file, path: r}\noperators:\n  - type: verify_signatur\n",
       7, 11, "operators[0].type", "unknown operator 'verify_signatur'"},
      {"name: x\ninput: {type: kafkaa, path: a}\nroutes: {}\n", 2, 15, "input.type",
       "unknown input type"},
      {"name: x\ninput: {type: file, path: a}\nroutes:\n  trusted: {type: file, path: t}\n", 4, 3,
       "routes", "route 'rejected' is required"},
      {"name: x\ninput: {type: file, path: a}\nroutes:\n  trusted: {type: file, path: t}\n"
       "  rejected: {type: file, path: r}\nengine:\n  batch_size: lots\n",
       7, 15, "engine.batch_size", "expected an integer"},
      {"name: x\ninput: {type: file, path: a}\nroutes:\n  trusted: {type: file, path: t}\n"
       "  rejected: {type: file, path: r}\nengnie: {}\n",
       6, 1, "engnie", "unknown key"},
      {"name: x\ninput: {type: file, path: a}\nroutes:\n  trusted: {type: file, path: t, colour: "
       "red}\n"
       "  rejected: {type: file, path: r}\n",
       4, 34, "routes.trusted.colour", "unknown key"},
  };
  auto reg = registries();
  for (const auto& c : cases) {
    Metrics metrics;
    try {
      build_pipeline(ConfigNode::load_string(c.yaml, "bad.yaml"), c.yaml, reg, metrics);
      ADD_FAILURE() << "accepted: " << c.yaml;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.file(), "bad.yaml");
      EXPECT_EQ(e.line(), c.line) << e.what();
      EXPECT_EQ(e.column(), c.column) << e.what();
      EXPECT_EQ(e.key(), c.key) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace assay::engine
