// The privacy operator: drop and pseudonymise; stable pseudonyms equal to HMAC-SHA256(key,
// value); no raw value anywhere in the output bytes; signed_bytes withheld (also for the
// sibling readings of a SignedBatch) with its SHA-256 and the rule names recorded; the Kafka
// key pseudonymised; bad rules refused with file:line:column.
#include "operators/privacy.hpp"

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "connectors/memory.hpp"
#include "connectors/record_json.hpp"
#include "engine/bytes.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"
#include "engine/signing_key.hpp"
#include "operators/builtin.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;
using Attrs = std::vector<std::pair<std::string, std::string>>;

const std::string kSecretHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string kOtherSecretHex =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

// Records what the pipeline writes to a route, with the Kafka key it would use.
class CaptureSink final : public engine::Sink {
 public:
  bool start(std::string*) override { return true; }
  bool write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
             uint64_t token) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      records.emplace_back(record.begin(), record.end());
      keys.emplace_back(meta.key);
    }
    if (ack_) ack_(token, true);
    return true;
  }
  bool flush(int) override { return true; }
  std::string describe() const override { return "capture"; }
  std::mutex mu;
  std::vector<std::vector<uint8_t>> records;
  std::vector<std::string> keys;
};

flatbuffers::Offset<wire::Reading> reading(flatbuffers::FlatBufferBuilder& fbb,
                                           const std::string& sensor, uint64_t seq,
                                           const Attrs& attrs) {
  std::vector<flatbuffers::Offset<wire::Attribute>> as;
  for (const auto& [k, v] : attrs)
    as.push_back(wire::CreateAttribute(fbb, fbb.CreateString(k), fbb.CreateString(v)));
  const auto id = fbb.CreateString(sensor);
  const auto unit = fbb.CreateString("Cel");
  const auto av = attrs.empty() ? 0 : fbb.CreateVector(as);
  wire::ReadingBuilder rb(fbb);
  rb.add_sensor_id(id);
  rb.add_seq(seq);
  rb.add_time_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(seq));
  rb.add_unit(unit);
  rb.add_value(20.0 + static_cast<double>(seq));
  if (!av.IsNull()) rb.add_attributes(av);
  return rb.Finish();
}

std::vector<uint8_t> bytes_of(flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("assay-privacy-" + std::to_string(getpid()) + "-" +
                                              std::to_string(std::random_device{}()));
  std::shared_ptr<const engine::EngineKey> sensor_key;
  std::string sensor;
  Fixture(std::string sensor_id = "urn:dev:line-3:scale-7") : sensor(std::move(sensor_id)) {
    fs::create_directories(dir);
    std::array<uint8_t, 32> seed{};
    seed.fill(42);
    sensor_key = engine::EngineKey::from_seed(seed, "k1");
    std::ofstream(dir / "sensors.yaml")
        << "sensors:\n  - sensor_id: \"" << sensor << "\"\n    keys:\n      - key_id: k1\n"
        << "        alg: Ed25519\n        public_key: \""
        << engine::to_hex(sensor_key->public_key()) << "\"\n";
    std::ofstream(dir / "privacy.secret") << kSecretHex << "\n";
    std::ofstream(dir / "other.secret") << kOtherSecretHex << "\n";
  }
  ~Fixture() { fs::remove_all(dir); }

  std::vector<uint8_t> signed_reading(uint64_t seq, const Attrs& attrs) const {
    flatbuffers::FlatBufferBuilder body;
    wire::FinishReadingBuffer(body, reading(body, sensor, seq, attrs));
    return envelope<wire::SignedReadingBuilder>(bytes_of(body), false);
  }
  std::vector<uint8_t> signed_batch(uint64_t seq, const std::vector<Attrs>& attrs) const {
    flatbuffers::FlatBufferBuilder body;
    std::vector<flatbuffers::Offset<wire::Reading>> rs;
    for (size_t i = 0; i < attrs.size(); ++i)
      rs.push_back(reading(body, sensor, seq + i, attrs[i]));
    wire::FinishReadingBatchBuffer(body, wire::CreateReadingBatch(body, body.CreateVector(rs)));
    return envelope<wire::SignedBatchBuilder>(bytes_of(body), true);
  }
  template <typename Builder>
  std::vector<uint8_t> envelope(const std::vector<uint8_t>& body, bool batch) const {
    const auto sig = sensor_key->sign(body);
    flatbuffers::FlatBufferBuilder fbb;
    fbb.ForceVectorAlignment(body.size(), 1, 8);
    const auto b = fbb.CreateVector(body);
    const auto k = fbb.CreateString("k1");
    const auto s = fbb.CreateVector(sig.data(), sig.size());
    Builder sb(fbb);
    sb.add_body(b);
    sb.add_key_id(k);
    sb.add_alg(wire::SignatureAlg::Ed25519);
    sb.add_signature(s);
    const auto root = sb.Finish();
    if (batch)
      fbb.Finish(root, wire::SignedBatchIdentifier());
    else
      fbb.Finish(root, wire::SignedReadingIdentifier());
    return bytes_of(fbb);
  }
};

struct Output {
  std::vector<std::vector<uint8_t>> trusted;
  std::vector<std::string> keys;
  engine::RunSummary summary;
};

Output run(const Fixture& fx, const std::string& rules,
           const std::vector<std::vector<uint8_t>>& frames) {
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  CaptureSink* trusted = nullptr;
  reg.sources["memory"] = [&](const engine::ConfigNode&, engine::BuildContext&) {
    return std::make_unique<connectors::MemorySource>(frames);
  };
  reg.sinks["capture"] = [&](const engine::ConfigNode&, engine::Route route,
                             engine::BuildContext&) {
    auto s = std::make_unique<CaptureSink>();
    if (route == engine::Route::kTrusted) trusted = s.get();
    return s;
  };
  const std::string text =
      "name: privacy-test\ninput: {type: memory}\nroutes:\n  trusted: {type: capture}\n"
      "  rejected: {type: capture}\noperators:\n  - type: verify_signature\n"
      "    registry: sensors.yaml\n    reload_interval_ms: 0\n  - type: privacy\n    rules:\n" +
      rules;
  engine::Metrics metrics;
  auto p = engine::build_pipeline(
      engine::ConfigNode::load_string(text, (fx.dir / "p.yaml").string()), text, reg, metrics);
  engine::Runner runner(*p, metrics);
  Output out;
  out.summary = runner.run();
  EXPECT_TRUE(out.summary.ok) << out.summary.error;
  out.trusted = trusted->records;
  out.keys = trusted->keys;
  return out;
}

std::string hmac_hex(const std::string& secret_hex, const std::string& value) {
  const auto secret = *engine::from_hex(secret_hex);
  uint8_t tag[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const uint8_t*>(value.data()), value.size(), tag, &len);
  return engine::to_hex(std::span<const uint8_t>(tag, len));
}

bool contains(const std::vector<uint8_t>& hay, const std::string& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

const wire::TrustedReading* decode(const std::vector<uint8_t>& rec) {
  flatbuffers::Verifier v(rec.data(), rec.size());
  EXPECT_TRUE(wire::VerifyTrustedReadingBuffer(v));
  return wire::GetTrustedReading(rec.data());
}

std::vector<std::string> rules_of(const wire::TrustedReading* t) {
  std::vector<std::string> out;
  if (t->privacy_rules() != nullptr)
    for (const auto* s : *t->privacy_rules()) out.push_back(s->str());
  return out;
}

Attrs attrs_of(const wire::Reading* r) {
  Attrs out;
  if (r->attributes() != nullptr)
    for (const auto* a : *r->attributes()) out.emplace_back(a->key()->str(), a->value()->str());
  return out;
}

const std::string kRules =
    "      - name: hash-operator\n        field: attributes.operator_id\n"
    "        action: pseudonymise\n        key: privacy.secret\n"
    "      - name: drop-location\n        field: attributes.location\n        action: drop\n";

TEST(Privacy, DropsAndPseudonymisesAndWithholdsSignedBytes) {
  Fixture fx;
  const std::vector<std::vector<uint8_t>> frames = {
      fx.signed_reading(1, {{"operator_id", "op-4711-alice"}, {"location", "hall-7-seat-3"}}),
      fx.signed_reading(2, {}),
      fx.signed_batch(3, {{{"operator_id", "op-4711-alice"}}, {}}),
      fx.signed_reading(5, {{"line", "3"}, {"operator_id", "op-0815-bob"}}),
  };
  const Output out = run(fx, kRules, frames);
  ASSERT_EQ(out.summary.trusted, 5u);
  ASSERT_EQ(out.trusted.size(), 5u);
  const std::string alice = hmac_hex(kSecretHex, "op-4711-alice");
  const std::string bob = hmac_hex(kSecretHex, "op-0815-bob");
  EXPECT_NE(alice, bob);
  std::map<uint64_t, const wire::TrustedReading*> by_seq;
  for (const auto& rec : out.trusted) by_seq[decode(rec)->seq()] = decode(rec);
  ASSERT_EQ(by_seq.size(), 5u);

  // seq 1: operator pseudonymised, location dropped, signed bytes withheld but hashed.
  const auto* t1 = by_seq[1];
  EXPECT_EQ(t1->signed_bytes(), nullptr);
  ASSERT_NE(t1->signed_bytes_sha256(), nullptr);
  const auto digest = engine::sha256(
      std::string_view(reinterpret_cast<const char*>(frames[0].data()), frames[0].size()));
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), t1->signed_bytes_sha256()->begin()));
  EXPECT_EQ(rules_of(t1), (std::vector<std::string>{"hash-operator", "drop-location"}));
  ASSERT_NE(t1->reading(), nullptr);
  EXPECT_EQ(attrs_of(t1->reading()), (Attrs{{"operator_id", alice}}));
  EXPECT_EQ(t1->reading()->seq(), 1u);
  EXPECT_EQ(t1->reading()->value(), 21.0);
  EXPECT_EQ(t1->reading()->sensor_id()->str(), fx.sensor);
  EXPECT_EQ(t1->reading()->unit()->str(), "Cel");
  EXPECT_EQ(t1->signature_verdict(), wire::SignatureVerdict::Valid);

  // seq 2: no rule applied: signed bytes as received, nothing else.
  const auto* t2 = by_seq[2];
  ASSERT_NE(t2->signed_bytes(), nullptr);
  EXPECT_TRUE(std::equal(frames[1].begin(), frames[1].end(), t2->signed_bytes()->begin()));
  EXPECT_EQ(t2->reading(), nullptr);
  EXPECT_EQ(t2->privacy_rules(), nullptr);
  EXPECT_EQ(t2->signed_bytes_sha256(), nullptr);

  // seq 3 and 4 share a SignedBatch: neither carries its raw bytes; both name the rule.
  const auto batch_digest = engine::sha256(
      std::string_view(reinterpret_cast<const char*>(frames[2].data()), frames[2].size()));
  for (uint64_t s : {3u, 4u}) {
    ASSERT_NE(by_seq[s]->signed_bytes_sha256(), nullptr);
    EXPECT_TRUE(std::equal(batch_digest.begin(), batch_digest.end(),
                           by_seq[s]->signed_bytes_sha256()->begin()));
    EXPECT_EQ(by_seq[s]->signed_bytes(), nullptr) << s;
    EXPECT_EQ(rules_of(by_seq[s]), (std::vector<std::string>{"hash-operator"})) << s;
    ASSERT_NE(by_seq[s]->reading(), nullptr);
    EXPECT_EQ(by_seq[s]->reading()->seq(), s);
  }
  EXPECT_EQ(attrs_of(by_seq[3]->reading()), (Attrs{{"operator_id", alice}}));  // stable
  EXPECT_TRUE(attrs_of(by_seq[4]->reading()).empty());

  // seq 5: other attributes are kept in place.
  EXPECT_EQ(attrs_of(by_seq[5]->reading()), (Attrs{{"line", "3"}, {"operator_id", bob}}));
  EXPECT_EQ(rules_of(by_seq[5]), (std::vector<std::string>{"hash-operator"}));

  // No raw value anywhere in the output bytes, nor in their JSON (jsonl sinks, inspect).
  for (const auto& rec : out.trusted) {
    std::string json;
    ASSERT_TRUE(connectors::record_to_json(rec, json));
    for (const std::string raw : {"op-4711-alice", "op-0815-bob", "hall-7-seat-3"}) {
      EXPECT_FALSE(contains(rec, raw)) << raw;
      EXPECT_EQ(json.find(raw), std::string::npos) << json;
    }
    if (decode(rec)->seq() == 1) {
      EXPECT_NE(json.find("\"attributes\":[{\"key\":\"operator_id\",\"value\":\"" + alice + "\"}]"),
                std::string::npos)
          << json;
      EXPECT_NE(json.find("\"privacy_rules\":[\"hash-operator\",\"drop-location\"]"),
                std::string::npos)
          << json;
      EXPECT_NE(json.find("\"signed_bytes_sha256\":\"" + engine::to_hex(digest) + "\""),
                std::string::npos)
          << json;
    }
  }
  // The same key gives the same pseudonyms in another run; another key gives others.
  const Output again = run(fx, kRules, frames);
  std::string other_rules = kRules;
  other_rules.replace(other_rules.find("privacy.secret"), 14, "other.secret");
  const Output other = run(fx, other_rules, frames);
  int seen = 0;
  for (size_t i = 0; i < again.trusted.size() && i < other.trusted.size(); ++i) {
    if (decode(again.trusted[i])->seq() == 1) {
      EXPECT_EQ(attrs_of(decode(again.trusted[i])->reading()), (Attrs{{"operator_id", alice}}));
      ++seen;
    }
    if (decode(other.trusted[i])->seq() == 1) {
      EXPECT_EQ(attrs_of(decode(other.trusted[i])->reading()),
                (Attrs{{"operator_id", hmac_hex(kOtherSecretHex, "op-4711-alice")}}));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
}

TEST(Privacy, PseudonymisedSensorIdIsTheKeyAndNeverAppears) {
  Fixture fx("urn:dev:alice-phone-0042");
  setenv("ASSAY_TEST_PRIVACY_KEY", kSecretHex.c_str(), 1);
  const std::vector<std::vector<uint8_t>> frames = {fx.signed_reading(1, {}),
                                                    fx.signed_batch(2, {{}, {}})};
  const Output out = run(fx,
                         "      - name: hash-sensor\n        field: sensor_id\n"
                         "        action: pseudonymise\n        key_env: ASSAY_TEST_PRIVACY_KEY\n",
                         frames);
  unsetenv("ASSAY_TEST_PRIVACY_KEY");
  ASSERT_EQ(out.trusted.size(), 3u);
  const std::string p = hmac_hex(kSecretHex, fx.sensor);
  for (size_t i = 0; i < out.trusted.size(); ++i) {
    const auto* t = decode(out.trusted[i]);
    EXPECT_EQ(t->sensor_id()->str(), p);
    EXPECT_EQ(t->reading()->sensor_id()->str(), p);
    EXPECT_EQ(t->signed_bytes(), nullptr);
    EXPECT_EQ(rules_of(t), (std::vector<std::string>{"hash-sensor"}));
    EXPECT_EQ(out.keys[i], p);  // the Kafka message key
    EXPECT_FALSE(contains(out.trusted[i], fx.sensor));
    EXPECT_FALSE(contains(out.trusted[i], "alice"));
  }
}

TEST(Privacy, BadRulesAreRefusedWithLocation) {
  Fixture fx;
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  const std::string file = (fx.dir / "p.yaml").string();
  auto refused = [&](const std::string& rules, int line, int col, const std::string& key,
                     const std::string& msg) {
    const std::string text = "operators:\n  - type: privacy\n    rules:\n" + rules;
    const engine::ConfigNode root = engine::ConfigNode::load_string(text, file);
    const engine::ConfigNode op = root.get("operators").items()[0];
    engine::Metrics metrics;
    engine::PipelineInfo info;
    engine::EngineOptions eo;
    engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext ctx{info, metrics, eo, services, warnings};
    try {
      (*reg.operators.find("privacy"))(op, ctx);
      op.finish();
      ADD_FAILURE() << "accepted:\n" << rules;
    } catch (const engine::ConfigError& e) {
      EXPECT_EQ(e.file(), file);
      EXPECT_EQ(e.line(), line) << e.what();
      EXPECT_EQ(e.column(), col) << e.what();
      EXPECT_EQ(e.key(), key) << e.what();
      EXPECT_NE(std::string(e.what()).find(msg), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("00112233"), std::string::npos) << e.what();
    }
  };
  refused(
      "      - {name: a, field: attributes.x, action: pseudonymise, key: privacy.secret, salt: "
      "1}\n",
      4, 83, "operators[0].rules[0].salt", "unknown key");
  refused("      - {name: a, field: operator_id, action: drop}\n", 4, 26,
          "operators[0].rules[0].field", "unknown field 'operator_id'");
  refused("      - {name: a, field: sensor_id, action: drop}\n", 4, 45,
          "operators[0].rules[0].action", "pseudonymised, not dropped");
  refused("      - {name: a, field: attributes.x, action: encrypt}\n", 4, 48,
          "operators[0].rules[0].action", "unknown action");
  refused("      - {name: a, field: attributes.x, action: pseudonymise}\n", 4, 9,
          "operators[0].rules[0]", "exactly one of `key`");
  refused("      - {name: a, field: attributes.x, action: drop, key: privacy.secret}\n", 4, 59,
          "operators[0].rules[0].key", "a drop rule takes no key");
  refused(
      "      - {name: a, field: attributes.x, action: drop}\n"
      "      - {name: a, field: attributes.y, action: drop}\n",
      5, 16, "operators[0].rules[1].name", "duplicate rule name");
  refused("      - {name: a, field: attributes.x, action: pseudonymise, key: missing.secret}\n", 4,
          67, "operators[0].rules[0].key", "cannot open file");
  std::ofstream(fx.dir / "short.secret") << "0011223344556677\n";
  refused("      - {name: a, field: attributes.x, action: pseudonymise, key: short.secret}\n", 4,
          67, "operators[0].rules[0].key", "at least 16 bytes");
  refused("      []\n", 4, 7, "operators[0].rules", "at least one rule");
}

}  // namespace
}  // namespace assay::operators
