// Real OCMF records of public chargers (tests/data/ocmf, with origin and licence) through a
// pipeline with `format: ocmf`: each one verifies as trusted against its maker's published key
// (P-256, brainpoolP256r1, P-384 with SHA-256), its tampered twin is rejected as signature.bad,
// and the trusted output carries the exact record the meter signed. The plausibility checks
// (operator ocmf_checks) over a real series of 100 records of one charger: continuity, a gap,
// a replay, the time status, and state kept per partition across batches.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../formats/formats_util.hpp"
#include "connectors/file_state.hpp"
#include "connectors/memory.hpp"
#include "connectors/ocmf_format.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"
#include "engine/signed_bytes.hpp"
#include "formats/senml_check.hpp"
#include "operators/ocmf_checks.hpp"
#include "operators/verify_signature.hpp"
#include "registries/identity_store.hpp"
#include "schemas/reading_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "tests/support/decode_util.hpp"

namespace {

using namespace assay;
namespace fs = std::filesystem;

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

struct Real {
  std::string id, record, curve, expect, parse, key_hex;
};

std::vector<Real> load_real() {
  std::vector<Real> out;
  std::istringstream in(
      slurp(std::string(ASSAY_SOURCE_DIR) + "/tests/data/ocmf/real_records.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    out.push_back({j.at("id"), j.at("record"), j.at("curve"), j.at("signature"), j.at("parse"),
                   j.at("public_key_der_hex")});
  }
  return out;
}

// The registry algorithm of an OCMF curve (SHA-256 on every curve); empty if not verifiable.
std::string registry_alg(const std::string& curve) {
  if (curve == "secp256r1") return "EcdsaP256Sha256";
  if (curve == "brainpoolP256r1") return "EcdsaBrainpoolP256r1Sha256";
  if (curve == "secp384r1") return "EcdsaP384Sha256";
  return "";
}

std::string signer_of(const std::string& rec) {
  formats::OcmfRecord r;
  formats::OcmfParseOptions o;
  o.allow_legacy_curves = true;
  const auto* p = reinterpret_cast<const uint8_t*>(rec.data());
  if (formats::parse_ocmf({p, rec.size()}, o, r) != formats::OcmfError::kNone) return "";
  std::string buf;
  return std::string(connectors::ocmf_identity(r, "", buf));
}

struct Outputs {
  std::vector<std::vector<uint8_t>> trusted, rejected;
};

// Runs records through decode(ocmf) -> verify_signature [-> ocmf_checks] with the registry file;
// with `state_file`, the checks' state is kept there (`state: {type: file}`).
Outputs run(const std::vector<std::vector<uint8_t>>& records, const std::string& registry,
            std::unique_ptr<engine::Operator> checks = nullptr, size_t batch_size = 1024,
            const std::string& state_file = "") {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"ocmf-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.batch_size = batch_size;
  p.source = std::make_unique<connectors::MemorySource>(records);
  p.format = std::make_unique<connectors::OcmfFormat>(connectors::OcmfFormatOptions{});
  auto t = std::make_unique<connectors::MemorySink>();
  auto r = std::make_unique<connectors::MemorySink>();
  auto *tp = t.get(), *rp = r.get();
  p.sinks[0] = std::move(t);
  p.sinks[1] = std::move(r);
  operators::VerifySignatureConfig vc;
  vc.identity = registries::IdentityStore::open(registry);
  vc.suspect_key_rate = 0;  // tampered twins make keys suspect: verify them all anyway
  p.operators.push_back(std::make_unique<operators::VerifySignature>(vc));
  p.stage_names = {"decode", "verify_signature"};
  if (checks) {
    p.operators.push_back(std::move(checks));
    p.stage_names.push_back("ocmf_checks");
    if (!state_file.empty()) {
      p.state = std::make_unique<connectors::FileStateStore>(state_file);
      p.state_ops = {engine::StateOperator{1, "ocmf_checks", "ocmf_checks"}};
    }
  }
  engine::Runner runner(p, metrics);
  const auto summary = runner.run();
  EXPECT_TRUE(summary.ok) << summary.error;
  return {tp->records(), rp->records()};
}

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("assay-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string pem_of_der_hex(const std::string& hex) {
  // Hex DER -> PEM, written independently of the engine (base64 by hand).
  std::vector<uint8_t> der;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    der.push_back(std::stoi(hex.substr(i, 2), nullptr, 16));
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < der.size(); i += 3) {
    const uint32_t v = der[i] << 16 | (i + 1 < der.size() ? der[i + 1] << 8 : 0) |
                       (i + 2 < der.size() ? der[i + 2] : 0);
    b64 += a[v >> 18 & 63];
    b64 += a[v >> 12 & 63];
    b64 += i + 1 < der.size() ? a[v >> 6 & 63] : '=';
    b64 += i + 2 < der.size() ? a[v & 63] : '=';
  }
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END PUBLIC KEY-----\n";
}

TEST(OcmfPipeline, RealRecordsVerifyAsTrustedAndTamperedTwinsAreSignatureBad) {
  const fs::path dir = temp_dir("ocmfpipe");
  const auto real = load_real();
  // Groups of records whose meters fit in one registry (the NZR test meters share a serial
  // number across their brainpoolP256r1 and secp384r1 keys: one registry each).
  struct Group {
    std::map<std::string, std::pair<std::string, std::string>> meters;  // id -> (alg, key hex)
    std::vector<const Real*> records;
  };
  std::vector<Group> groups;
  std::set<std::string> curves;
  for (const Real& r : real) {
    if (r.parse != "ok" || registry_alg(r.curve).empty() || r.expect != "valid") continue;
    const std::string id = signer_of(r.record);
    ASSERT_FALSE(id.empty()) << r.id;
    curves.insert(r.curve);
    Group* g = nullptr;
    for (Group& x : groups) {
      auto it = x.meters.find(id);
      if (it == x.meters.end() || it->second.second == r.key_hex) {
        g = &x;
        break;
      }
    }
    if (g == nullptr) g = &groups.emplace_back();
    g->meters.emplace(id, std::make_pair(registry_alg(r.curve), r.key_hex));
    g->records.push_back(&r);
  }
  EXPECT_EQ(curves, (std::set<std::string>{"secp256r1", "brainpoolP256r1", "secp384r1"}));
  ASSERT_EQ(groups.size(), 2u);
  size_t records = 0, n = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    // The registry, with keys in the forms makers publish: hex DER SubjectPublicKeyInfo
    // inline, and PEM files for every second meter.
    std::string yaml = "sensors:\n";
    for (const auto& [id, ak] : g.meters) {
      yaml += "  - sensor_id: \"" + id + "\"\n    keys:\n      - key_id: \"" + id +
              "\"\n        alg: " + ak.first + "\n";
      if (n++ % 2 == 0) {
        yaml += "        public_key: \"" + ak.second + "\"\n";
      } else {
        const fs::path pem = dir / ("key" + std::to_string(n) + ".pem");
        std::ofstream(pem) << pem_of_der_hex(ak.second);
        yaml += "        public_key_file: \"" + pem.string() + "\"\n";
      }
    }
    const fs::path reg = dir / ("meters" + std::to_string(gi) + ".yaml");
    std::ofstream(reg) << yaml;
    // Each record, then its tampered twin.
    std::vector<std::vector<uint8_t>> input;
    size_t expected_rows = 0;
    for (const Real* r : g.records) {
      input.push_back(bytes(r->record));
      input.push_back(bytes(formats::test::tamper_ocmf_reading(r->record)));
      formats::OcmfRecord rec;
      ASSERT_EQ(
          formats::parse_ocmf(
              {reinterpret_cast<const uint8_t*>(r->record.data()), r->record.size()}, {}, rec),
          formats::OcmfError::kNone);
      expected_rows += rec.readings.size();
    }
    records += g.records.size();
    const Outputs out = run(input, reg.string());

    // Every reading of every real record is trusted, and carries the record byte for byte.
    ASSERT_EQ(out.trusted.size(), expected_rows);
    // (A record's later readings refer to its first one, which carries the bytes.)
    std::map<std::string, size_t> trusted_per_record;
    engine::SignedBytesResolver resolver;
    for (const auto& t : out.trusted) {
      const auto* tr = wire::GetTrustedReading(t.data());
      EXPECT_EQ(tr->signature_verdict(), wire::SignatureVerdict::Valid);
      engine::SignedBytesResolver::Missing missing{};
      const std::span<const uint8_t> bytes = resolver.resolve(*tr, &missing);
      ASSERT_FALSE(bytes.empty()) << engine::SignedBytesResolver::name(missing);
      const std::string sb(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      ++trusted_per_record[sb];
      EXPECT_EQ(tr->provenance()->key_id()->str(), signer_of(sb));
      EXPECT_EQ(tr->sensor_id()->str(), signer_of(sb));
    }
    for (const Real* r : g.records) EXPECT_GE(trusted_per_record[r->record], 1u) << r->id;
    // Every tampered twin is rejected as a bad signature, with its bytes.
    ASSERT_EQ(out.rejected.size(), g.records.size());
    for (size_t i = 0; i < out.rejected.size(); ++i) {
      const auto* rj = wire::GetRejectedRecord(out.rejected[i].data());
      EXPECT_EQ(rj->reason()->str(), "signature.bad") << g.records[i]->id;
      EXPECT_EQ(rj->stage()->str(), "verify_signature");
      const std::string payload(reinterpret_cast<const char*>(rj->payload()->data()),
                                rj->payload()->size());
      EXPECT_EQ(payload, formats::test::tamper_ocmf_reading(g.records[i]->record))
          << g.records[i]->id;
    }
  }
  EXPECT_EQ(records, 15u);  // every real record that is valid upstream on a supported curve
  fs::remove_all(dir);
}

TEST(OcmfPipeline, RecordsThatCannotBeTrustedAreRejectedWithTheirReason) {
  const fs::path dir = temp_dir("ocmfpipe2");
  const auto real = load_real();
  std::map<std::string, const Real*> by_id;
  for (const Real& r : real) by_id[r.id] = &r;
  // Registry: the KEBA and eBee meters with their keys; the NZR P-384 meter registered with
  // the P-384/SHA-384 algorithm (not what it signs with).
  auto entry = [](const std::string& id, const std::string& alg, const std::string& key) {
    return "  - sensor_id: \"" + id + "\"\n    keys:\n      - key_id: \"" + id +
           "\"\n        alg: " + alg + "\n        public_key: \"" + key + "\"\n";
  };
  const Real& keba_bad = *by_id.at("keba-kcp30-fail-1");
  const Real& ebee_bad = *by_id.at("ebee-heinz-altered-1");
  const Real& nzr384 = *by_id.at("nzr-secp384r1-1");
  std::string yaml = "sensors:\n" +
                     entry(signer_of(keba_bad.record), "EcdsaP256Sha256", keba_bad.key_hex) +
                     entry(signer_of(ebee_bad.record), "EcdsaP256Sha256", ebee_bad.key_hex) +
                     entry(signer_of(nzr384.record), "EcdsaP384Sha384", nzr384.key_hex);
  std::ofstream(dir / "meters.yaml") << yaml;
  const std::vector<std::pair<const Real*, std::string>> cases = {
      {&keba_bad, "signature.bad"},                                 // altered upstream
      {&ebee_bad, "signature.bad"},                                 // altered upstream
      {&nzr384, "signature.algorithm_not_allowed"},                 // registered for SHA-384
      {by_id.at("bauer-bsm-ws36a-1"), "signature.unknown_sensor"},  // not in the registry
      {by_id.at("dzg-nano-secp256k1-1"), "ocmf.unsupported_algorithm"},
      {by_id.at("ebz-ld3-secp192r1-1"), "ocmf.legacy_algorithm"},
      {by_id.at("ebz-ld3-secp192r1-2"), "ocmf.legacy_algorithm"},
  };
  std::vector<std::vector<uint8_t>> input;
  for (const auto& c : cases) input.push_back(bytes(c.first->record));
  const Outputs out = run(input, (dir / "meters.yaml").string());
  EXPECT_TRUE(out.trusted.empty());
  ASSERT_EQ(out.rejected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto* rj = wire::GetRejectedRecord(out.rejected[i].data());
    EXPECT_EQ(rj->reason()->str(), cases[i].second) << cases[i].first->id;
  }
  fs::remove_all(dir);
}

// The KEBA series: 100 consecutive records of one charger.
struct Series {
  std::vector<std::string> records;
  std::string registry;
};

Series keba_series(const fs::path& dir) {
  const auto j = nlohmann::json::parse(
      slurp(std::string(ASSAY_SOURCE_DIR) + "/tests/data/ocmf/keba_kcp30_series.json"));
  Series s;
  for (const auto& r : j.at("records")) s.records.push_back(r.get<std::string>());
  const std::string id = signer_of(s.records.front());
  EXPECT_EQ(id, "16913115");  // GS only (KEBA sets no MS)
  std::ofstream(dir / "keba.yaml")
      << "sensors:\n  - sensor_id: \"" + id + "\"\n    keys:\n      - key_id: \"" + id +
             "\"\n        alg: EcdsaP256Sha256\n        public_key: \"" +
             j.at("public_key_der_hex").get<std::string>() + "\"\n";
  s.registry = (dir / "keba.yaml").string();
  return s;
}

std::unique_ptr<engine::Operator> relaxed_checks() {
  formats::OcmfCheckConfig c;
  c.reject_unsynchronized = false;  // this charger's clock is unsynchronised (status U)
  return std::make_unique<operators::OcmfChecks>(c);
}

std::vector<std::string> reasons(const Outputs& o) {
  std::vector<std::string> r;
  for (const auto& x : o.rejected) r.push_back(wire::GetRejectedRecord(x.data())->reason()->str());
  return r;
}

TEST(OcmfPipeline, PlausibilityChecksOverARealSeries) {
  const fs::path dir = temp_dir("ocmfseries");
  const Series s = keba_series(dir);
  ASSERT_EQ(s.records.size(), 100u);
  std::vector<std::vector<uint8_t>> in;
  for (const auto& r : s.records) in.push_back(bytes(r));
  // The series as sent, in small batches (state carries over): every record passes.
  {
    const Outputs o = run(in, s.registry, relaxed_checks(), 7);
    EXPECT_TRUE(o.rejected.empty()) << (o.rejected.empty() ? "" : reasons(o).front());
    EXPECT_EQ(o.trusted.size(), 300u);  // three readings per record
  }
  // Default checks: the unsynchronised clock is a finding on every record.
  {
    const Outputs o =
        run(in, s.registry, std::make_unique<operators::OcmfChecks>(formats::OcmfCheckConfig{}));
    EXPECT_TRUE(o.trusted.empty());
    ASSERT_EQ(o.rejected.size(), 100u);
    for (const auto& r : reasons(o)) EXPECT_EQ(r, "ocmf.time_unsynchronized");
  }
  // Record 41 missing: a gap at 42; record 10 sent again: a replay (not trusted twice).
  {
    std::vector<std::vector<uint8_t>> cut;
    for (size_t i = 0; i < in.size(); ++i) {
      if (i == 41) continue;
      cut.push_back(in[i]);
      if (i == 20) cut.push_back(in[10]);
    }
    const Outputs o = run(cut, s.registry, relaxed_checks(), 16);
    EXPECT_EQ(reasons(o),
              (std::vector<std::string>{"ocmf.pagination_replay", "ocmf.pagination_gap"}));
    const auto* rj = wire::GetRejectedRecord(o.rejected[1].data());
    EXPECT_EQ(
        std::string(reinterpret_cast<const char*>(rj->payload()->data()), rj->payload()->size()),
        s.records[42]);
    EXPECT_EQ(rj->stage()->str(), "ocmf_checks");
    EXPECT_EQ(o.trusted.size(), 3u * 98u);  // 100 sent, the replay out, the gap record out
  }
  // A forged record never reaches the checks: its pagination does not count.
  {
    std::vector<std::vector<uint8_t>> forged = {
        in[0], bytes(formats::test::tamper_ocmf_reading(s.records[1])), in[1], in[2]};
    const Outputs o = run(forged, s.registry, relaxed_checks());
    EXPECT_EQ(reasons(o), (std::vector<std::string>{"signature.bad"}));
    EXPECT_EQ(o.trusted.size(), 9u);
  }
  fs::remove_all(dir);
}

TEST(OcmfPipeline, DurableCheckStateEntriesRestoreTheState) {
  const fs::path dir = temp_dir("ocmfdurable");
  const Series s = keba_series(dir);
  ASSERT_EQ(s.records.size(), 100u);
  const auto op = relaxed_checks();
  auto a = op->make_state(engine::Partition{0});
  EXPECT_TRUE(a->durable());
  engine::PipelineInfo info{"p", {}, "i"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "p", "ocmf_checks");
  engine::OperatorContext ctx{info, probe, 2, 0, 0};
  const connectors::OcmfFormat format(connectors::OcmfFormatOptions{});
  // What the runner does: process a batch, then take the entries its rows changed.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> log;
  const auto process = [&](engine::OperatorState& st, const std::vector<std::string>& recs) {
    engine::Batch b;
    test::decode_records(b, recs, format);
    b.sel.clear();
    for (uint32_t r = 0; r < b.row_count(); ++r)
      if (b.row_reject[r] == engine::RejectCode::kNone) b.sel.push_back(r);
    const std::vector<uint32_t> rows = b.sel;
    EXPECT_EQ(rows.size(), 3 * recs.size());
    op->process(b, &st, ctx);
    std::vector<std::string> keys;
    st.changed_entries(b, rows, [&](std::string_view k, std::span<const uint8_t> e) {
      keys.emplace_back(k);
      log.emplace_back(std::string(k), std::vector<uint8_t>(e.begin(), e.end()));
    });
    std::vector<std::string> verdicts;
    for (uint32_t r = 0; r < b.row_count(); r += 3)
      verdicts.emplace_back(engine::reject_code_name(b.row_reject[r]));
    return std::make_pair(keys, verdicts);
  };
  const std::vector<std::string> meter = {"16913115"};
  for (size_t i = 0; i < 60; i += 7) {
    const std::vector<std::string> batch(s.records.begin() + i,
                                         s.records.begin() + std::min<size_t>(i + 7, 60));
    const auto [keys, verdicts] = process(*a, batch);
    EXPECT_EQ(keys, meter) << i;
    for (const auto& v : verdicts) EXPECT_EQ(v, "none") << i;
  }
  // A batch of replays only changes nothing.
  EXPECT_TRUE(process(*a, {s.records[3], s.records[59]}).first.empty());
  ASSERT_EQ(log.size(), 9u);

  // Every entry, in order, into a fresh state: the same state; replays stay replays, and the
  // series goes on without a gap.
  auto b = op->make_state(engine::Partition{0});
  for (const auto& [key, entry] : log) ASSERT_TRUE(b->merge_entry(entry)) << key;
  EXPECT_EQ(b->snapshot(), a->snapshot());
  log.clear();
  const auto [keys, verdicts] = process(*b, {s.records[10], s.records[59], s.records[60]});
  EXPECT_EQ(keys, meter);
  EXPECT_EQ(verdicts,
            (std::vector<std::string>{"ocmf.pagination_replay", "ocmf.pagination_replay", "none"}));
  ASSERT_EQ(log.size(), 1u);

  // Malformed, truncated or foreign entries are refused and change nothing.
  const auto before = b->snapshot();
  const std::vector<uint8_t> good = log.front().second;
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(b->merge_entry(std::span(good).first(n))) << n;
  auto flipped = good;
  flipped[good.size() / 2] ^= 4;
  EXPECT_FALSE(b->merge_entry(flipped));
  formats::SenmlReplayState senml;
  EXPECT_FALSE(b->merge_entry(senml.snapshot()));  // another checker's snapshot
  EXPECT_EQ(b->snapshot(), before);
  EXPECT_TRUE(b->merge_entry(good));

  // max_meters holds on restore: a second meter does not fit in a state of one.
  formats::OcmfCheckConfig one;
  one.max_meters = 1;
  one.reject_unsynchronized = false;
  operators::OcmfChecks tight(one);
  auto t = tight.make_state(engine::Partition{0});
  formats::OcmfCheckState other;
  formats::OcmfChecker checker;
  formats::OcmfRecord rec;
  ASSERT_EQ(formats::parse_ocmf(bytes(s.records[0]), {}, rec), formats::OcmfError::kNone);
  checker.check(other, rec, "another meter");
  std::vector<uint8_t> other_entry;
  other.for_each_changed([&](std::string_view, std::span<const uint8_t> e) {
    other_entry.assign(e.begin(), e.end());
  });
  ASSERT_FALSE(other_entry.empty());
  EXPECT_TRUE(t->merge_entry(good));
  EXPECT_FALSE(t->merge_entry(other_entry));
  EXPECT_TRUE(t->merge_entry(good));
  fs::remove_all(dir);
}

TEST(OcmfPipeline, CheckStateKeptInAFileCarriesOverToTheNextRun) {
  const fs::path dir = temp_dir("ocmfstatefile");
  const Series s = keba_series(dir);
  std::vector<std::vector<uint8_t>> first, second;
  for (size_t i = 0; i < 50; ++i) first.push_back(bytes(s.records[i]));
  for (size_t i = 40; i < 100; ++i) second.push_back(bytes(s.records[i]));
  const std::string state = (dir / "state.ckpt").string();
  {
    const Outputs o = run(first, s.registry, relaxed_checks(), 9, state);
    EXPECT_TRUE(o.rejected.empty());
    EXPECT_EQ(o.trusted.size(), 150u);
  }
  ASSERT_TRUE(fs::exists(state));
  // The next run goes on from record 40: 40..49 are replays, 50.. continue without a gap.
  {
    const Outputs o = run(second, s.registry, relaxed_checks(), 9, state);
    EXPECT_EQ(reasons(o), std::vector<std::string>(10, "ocmf.pagination_replay"));
    EXPECT_EQ(o.trusted.size(), 150u);
  }
  // Without the state file the same run accepts the replays.
  {
    const Outputs o = run(second, s.registry, relaxed_checks(), 9);
    EXPECT_TRUE(o.rejected.empty());
  }
  fs::remove_all(dir);
}

TEST(OcmfPipeline, CheckStateSnapshotRoundTrip) {
  operators::OcmfChecks op(formats::OcmfCheckConfig{});
  auto st = op.make_state(engine::Partition{0});
  EXPECT_TRUE(st->restore({}));
  EXPECT_FALSE(st->snapshot().empty());
  const std::vector<uint8_t> garbage = {1, 2, 3};
  EXPECT_FALSE(st->restore(garbage));
  // Every finding has a reject code with the checker's name.
  for (int c = 1; c < static_cast<int>(formats::OcmfCheck::kCount_); ++c) {
    const auto chk = static_cast<formats::OcmfCheck>(c);
    EXPECT_EQ(engine::reject_code_name(operators::ocmf_check_reject_code(chk)),
              formats::ocmf_check_name(chk));
  }
}

}  // namespace
