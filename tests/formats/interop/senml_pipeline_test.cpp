// SenML/COSE through the pipeline (issue 15): the messages an independent implementation wrote
// (pycose + cbor2, tests/formats/gen_cose.py: ES256, EdDSA and HMAC 256/256; CBOR and JSON
// packs; tampered payloads and protected headers, foreign keys under registered kids, replayed
// bytes and stale packs, malformed envelopes) run through `format: senml-cose` ->
// verify_signature -> senml_checks, as one stream in the generator's order. Every message must
// reach the verdict the manifest names: valid ones come out trusted, one row per resolved SenML
// record, carrying the message byte for byte; every other one is rejected with its reason.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../formats_util.hpp"
#include "connectors/memory.hpp"
#include "connectors/senml_cose_format.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"
#include "engine/signed_bytes.hpp"
#include "operators/senml_checks.hpp"
#include "operators/verify_signature.hpp"
#include "registries/identity_store.hpp"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace {

using namespace assay;
namespace fs = std::filesystem;

struct Outputs {
  std::vector<std::vector<uint8_t>> trusted, rejected;
};

Outputs run(const std::vector<std::vector<uint8_t>>& records, const std::string& registry,
            size_t batch_size) {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"senml-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.batch_size = batch_size;
  p.source = std::make_unique<connectors::MemorySource>(records);
  connectors::SenmlCoseFormatOptions fo;
  fo.sensor = connectors::SenmlSensorRule::kKey;  // the generator's packs name several devices
  p.format = std::make_unique<connectors::SenmlCoseFormat>(fo);
  auto t = std::make_unique<connectors::MemorySink>();
  auto r = std::make_unique<connectors::MemorySink>();
  auto *tp = t.get(), *rp = r.get();
  p.sinks[0] = std::move(t);
  p.sinks[1] = std::move(r);
  operators::VerifySignatureConfig vc;
  vc.identity = registries::IdentityStore::open(registry);
  vc.suspect_key_rate = 0;  // the foreign-key messages make keys suspect: verify them all anyway
  p.operators.push_back(std::make_unique<operators::VerifySignature>(vc));
  p.operators.push_back(std::make_unique<operators::SenmlChecks>(formats::SenmlCheckConfig{}));
  p.stage_names = {"decode", "verify_signature", "senml_checks"};
  engine::Runner runner(p, metrics);
  const auto summary = runner.run();
  EXPECT_TRUE(summary.ok) << summary.error;
  return {tp->records(), rp->records()};
}

TEST(SenmlCosePipeline, IndependentImplementationsStreamGetsTheExpectedVerdicts) {
  const fs::path dir = ASSAY_COSE_VECTORS;
  const auto manifest = nlohmann::json::parse(formats::test::read_text(dir / "manifest.json"));
  // Registry: sensor rule `key`, so each kid names its sensor.
  const fs::path work =
      fs::temp_directory_path() / ("assay-senml-pipe-" + std::to_string(::getpid()));
  fs::create_directories(work);
  std::string yaml = "sensors:\n";
  std::map<std::string, std::string> sensor_of_key;  // key name -> sensor id (kid text)
  for (const auto& [kid_hex, name] : manifest.at("registry").items()) {
    const auto kid_bytes = formats::test::unhex(kid_hex);
    const std::string kid(kid_bytes.begin(), kid_bytes.end());
    const auto& k = manifest.at("keys").at(name.get<std::string>());
    const std::string type = k.at("type");
    sensor_of_key[name] = kid;
    yaml += "  - sensor_id: \"" + kid + "\"\n    keys:\n      - key_id: \"" + kid + "\"\n";
    if (type == "es256") {
      yaml += "        alg: EcdsaP256Sha256\n        public_key: \"" +
              k.at("public_hex").get<std::string>() + "\"\n";
    } else if (type == "ed25519") {
      yaml += "        alg: Ed25519\n        public_key: \"" +
              k.at("public_hex").get<std::string>() + "\"\n";
    } else {
      std::ofstream(work / (kid + ".secret")) << k.at("secret_hex").get<std::string>() << "\n";
      yaml += "        alg: HmacSha256\n        secret_file: " + kid + ".secret\n";
    }
  }
  const fs::path registry = work / "sensors.yaml";
  std::ofstream(registry) << yaml;

  std::vector<std::vector<uint8_t>> records;
  const auto& messages = manifest.at("messages");
  for (const auto& m : messages) {
    records.push_back(formats::test::read_binary(dir / m.at("file").get<std::string>()));
  }
  ASSERT_GE(records.size(), 20u);

  for (size_t batch : {size_t{1}, size_t{3}, size_t{1024}}) {
    SCOPED_TRACE("batch size " + std::to_string(batch));
    const Outputs out = run(records, registry.string(), batch);
    // Trusted rows and rejected records by source offset (= the message's index).
    std::map<int64_t, std::vector<const wire::TrustedReading*>> trusted;
    std::map<int64_t, std::vector<const wire::RejectedRecord*>> rejected;
    for (const auto& t : out.trusted) {
      const auto* tr = wire::GetTrustedReading(t.data());
      trusted[tr->provenance()->source_offset()].push_back(tr);
    }
    for (const auto& r : out.rejected) {
      const auto* rr = wire::GetRejectedRecord(r.data());
      rejected[rr->source_offset()].push_back(rr);
    }
    size_t valid = 0, refused = 0;
    engine::SignedBytesResolver resolver;  // fed the trusted records in output order
    for (size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      std::string expect = m.at("expect");
      const std::string name = m.at("name");
      // The tampered protected header changes the content type to 60 (application/cbor): the
      // pipeline cannot read readings from a payload that is not SenML, so it refuses the
      // message at decode, before any signature is checked (the parser-level test checks that
      // its signature fails).
      if (name == "es256-tampered-protected") expect = "cose.content_type_unsupported";
      const auto off = static_cast<int64_t>(i);
      if (expect == "valid") {
        ++valid;
        const auto& recs = m.at("records");
        ASSERT_EQ(trusted[off].size(), recs.size()) << name;
        EXPECT_TRUE(rejected[off].empty()) << name;
        for (size_t k = 0; k < recs.size(); ++k) {
          const auto* tr = trusted[off][k];
          EXPECT_EQ(tr->reading_index(), k) << name;
          EXPECT_EQ(tr->signature_verdict(), wire::SignatureVerdict::Valid) << name;
          // The record's time (SenML has no counter: seq = time in ns) and value, as the
          // generator resolved them independently of Assay's parser.
          EXPECT_EQ(static_cast<int64_t>(tr->seq()), recs[k].at("time_ns").get<int64_t>()) << name;
          if (recs[k].contains("value")) {
            EXPECT_DOUBLE_EQ(tr->corrected_value(), recs[k].at("value").get<double>()) << name;
          }
          // The message byte for byte (in the record, or for the pack's later records in its
          // first one, the carrier): a consumer re-verifies it with any COSE library.
          engine::SignedBytesResolver::Missing missing{};
          const std::span<const uint8_t> sb = resolver.resolve(*tr, &missing);
          EXPECT_EQ(std::vector<uint8_t>(sb.begin(), sb.end()), records[i])
              << name << " " << engine::SignedBytesResolver::name(missing);
        }
        EXPECT_EQ(trusted[off][0]->sensor_id()->str(),
                  trusted[off][0]->provenance()->key_id()->str());
      } else {
        ++refused;
        EXPECT_TRUE(trusted[off].empty()) << name;
        ASSERT_EQ(rejected[off].size(), 1u) << name;
        EXPECT_EQ(rejected[off][0]->reason()->str(), expect) << name;
      }
    }
    EXPECT_GE(valid, 5u);
    EXPECT_GE(refused, 15u);
  }
  fs::remove_all(work);
}

}  // namespace
