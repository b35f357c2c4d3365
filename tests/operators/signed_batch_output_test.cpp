// Signed batches carried once (issue 18 item 3, docs/wire-contract.md "Signed batches carried
// once"): with engine.signed_bytes: once (the default) a SignedBatch's bytes are written once
// per sensor on the trusted route, in the first of its TrustedReadings (the carrier); the
// others refer to it (SignedBytesAt::Carrier, SHA-256 of the bytes). A consumer re-verifies
// every trusted reading's signature from the output alone: here with OpenSSL, independently of
// the engine's verifier, against the public keys of the fleet's registry.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "connectors/builtin.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/runner.hpp"
#include "engine/signed_bytes.hpp"
#include "engine/signing_key.hpp"
#include "engine/trusted_group.hpp"
#include "operators/builtin.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;
using Missing = engine::SignedBytesResolver::Missing;

// RFC 8410 section 10.3 example private key (the engine's provenance key).
constexpr char kPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";

struct Fleet {
  fs::path dir;
  size_t frames = 0, readings = 0, input_bytes = 0;
  std::map<std::string, std::vector<uint8_t>> keys;  // key_id -> Ed25519 public key
  ~Fleet() { fs::remove_all(dir); }
};

// Every sensor sends SignedBatches of `per_batch` readings (Ed25519). `quality`: with
// calibration certificates, and spikes, stuck values, drift and replays, so that the readings
// of one batch get different verdicts and values.
std::unique_ptr<Fleet> simulate(uint32_t per_batch, bool quality = false) {
  auto f = std::make_unique<Fleet>();
  f->dir = fs::temp_directory_path() /
           ("assay-sbo-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
  fs::create_directories(f->dir);
  std::ofstream(f->dir / "engine.pem") << kPem;
  sim::SimConfig c;
  c.sensors = 12;
  c.records = 40 * per_batch;
  c.seed = 18;
  c.batch_fraction = 1.0;
  c.batch_size = per_batch;
  c.registry_path = (f->dir / "sensors.yaml").string();
  c.faults = {};
  c.faults.rate.fill(0.0);
  std::string err;
  if (quality) {
    c.sensors = 40;
    c.records = 400 * per_batch;
    c.start_time_ns = 1'772'323'200'000'000'000;  // 2026-03-01T00:00:00Z
    c.certs_path = (f->dir / "certs.yaml").string();
    c.labs_path = (f->dir / "labs.yaml").string();
    c.drift_observable = true;
    for (const char* spec : {"replay=0.02", "spike=0.05", "stuck=0.02", "drift=0.2"})
      EXPECT_TRUE(sim::parse_fault(spec, c.faults, err)) << err;
  }
  EXPECT_TRUE(sim::parse_alg_mix("ed25519=1", c.alg_mix, err)) << err;
  sim::MemoryFrameSink sink;
  sim::SimSummary summary;
  EXPECT_TRUE(sim::run_simulation(c, sink, summary, err)) << err;
  engine::FrameWriter w;
  EXPECT_TRUE(w.open((f->dir / "in.asy").string()));
  for (const auto& fr : sink.frames) {
    EXPECT_TRUE(w.write(fr));
    f->input_bytes += fr.size();
  }
  EXPECT_TRUE(w.close());
  f->frames = sink.frames.size();
  f->readings = summary.readings;
  // The registry's public keys, read with yaml-cpp (not the engine's registry code).
  const YAML::Node reg = YAML::LoadFile(c.registry_path);
  for (const auto& s : reg["sensors"])
    for (const auto& k : s["keys"]) {
      const auto pk = engine::from_hex(k["public_key"].as<std::string>());
      EXPECT_TRUE(pk.has_value());
      if (pk) f->keys[k["key_id"].as<std::string>()] = *pk;
    }
  return f;
}

// `trusted_records`: per_reading or grouped. `quality`: calibration, anomaly and drift after
// the signature (a fleet simulated with `quality`).
engine::RunSummary run(const Fleet& f, const std::string& out, const std::string& signed_bytes,
                       const std::string& trusted_records = "per_reading", bool quality = false) {
  const fs::path d = f.dir;
  const std::string reg_path = (d / "sensors.yaml").string();
  const std::string quality_ops =
      !quality ? ""
               : "  - {type: calibration, certificates: " + (d / "certs.yaml").string() +
                     ", trust: " + (d / "labs.yaml").string() + ", registry: " + reg_path +
                     ", reload_interval_ms: 0, reject: [no_certificate, out_of_tolerance, "
                     "indeterminate, outside_measuring_range]}\n"
                     "  - {type: anomaly, registry: " +
                     reg_path +
                     ", reload_interval_ms: 0, rate_limit: {rate: 0.9, burst: 8}, "
                     "clock_skew_tolerance_ms: 31536000000}\n"
                     "  - {type: drift, registry: " +
                     reg_path + ", reload_interval_ms: 0}\n";
  const std::string y =
      "name: batches\n"
      "input: {type: file, path: " +
      (d / "in.asy").string() +
      "}\n"
      "operators:\n"
      "  - {type: verify_signature, registry: " +
      reg_path + ", reload_interval_ms: 0}\n" + quality_ops +
      "  - {type: provenance, key: " + (d / "engine.pem").string() +
      ", checkpoint: {every_records: 500, every_ms: 600000}}\n"
      "routes:\n"
      "  trusted: {type: file, path: " +
      (d / (out + "-trusted.asy")).string() +
      "}\n"
      "  rejected: {type: file, path: " +
      (d / (out + "-rejected.asy")).string() +
      "}\n"
      "  attestations: {type: file, path: " +
      (d / (out + "-att.asy")).string() +
      "}\n"
      "  alerts: {type: file, path: " +
      (d / (out + "-alerts.asy")).string() +
      "}\n"
      "engine: {batch_size: 32, max_in_flight: 4, signed_bytes: " +
      signed_bytes + ", trusted_records: " + trusted_records + "}\n";
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  engine::Metrics metrics;
  auto p = engine::build_pipeline(engine::ConfigNode::load_string(y, (d / "p.yaml").string()), y,
                                  reg, metrics);
  engine::Runner runner(*p, metrics);
  return runner.run();
}

// Independent Ed25519 verification (OpenSSL).
bool ed25519_ok(const std::vector<uint8_t>& pk, std::span<const uint8_t> sig,
                std::span<const uint8_t> msg) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pk.data(), pk.size());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = key != nullptr && ctx != nullptr &&
                  EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

struct Reverified {
  size_t records = 0, readings = 0, carriers = 0, references = 0, signatures_ok = 0,
         readings_match = 0, bad_groups = 0;
  std::map<Missing, size_t> missing;
};

// Re-verifies every trusted reading from the output records alone: its signed bytes (its own
// or its carrier's), the batch's signature with the registry's key, and that the reading at
// reading_index is the one the record describes (sensor and sequence number). A grouped record
// stands for each reading of its group_reading_indexes (sensor; the first also its seq).
Reverified reverify(const Fleet& f, const std::vector<std::vector<uint8_t>>& trusted) {
  Reverified r;
  engine::SignedBytesResolver resolver;
  std::vector<engine::TrustedEntry> entries;
  for (const auto& rec : trusted) {
    flatbuffers::Verifier v(rec.data(), rec.size());
    if (!v.VerifyBuffer<wire::TrustedReading>(nullptr)) {
      ADD_FAILURE() << "not a TrustedReading";
      continue;
    }
    const auto* t = wire::GetTrustedReading(rec.data());
    ++r.records;
    std::string bad;
    if (!engine::trusted_entries(*t, &entries, &bad)) {
      ++r.bad_groups;
      continue;
    }
    r.readings += entries.size();
    if (t->signed_bytes() != nullptr) ++r.carriers;
    if (t->signed_bytes_at() == wire::SignedBytesAt::Carrier) ++r.references;
    Missing why{};
    const std::span<const uint8_t> sb = resolver.resolve(*t, &why);
    if (sb.empty()) {
      r.missing[why] += entries.size();
      continue;
    }
    flatbuffers::Verifier bv(sb.data(), sb.size());
    if (!bv.VerifyBuffer<wire::SignedBatch>(nullptr)) continue;
    const auto* batch = wire::GetSignedBatch(sb.data());
    const auto key = f.keys.find(batch->key_id()->str());
    if (key != f.keys.end() &&
        ed25519_ok(key->second, {batch->signature()->data(), batch->signature()->size()},
                   {batch->body()->data(), batch->body()->size()}))
      r.signatures_ok += entries.size();
    flatbuffers::Verifier rv(batch->body()->data(), batch->body()->size());
    if (!rv.VerifyBuffer<wire::ReadingBatch>(nullptr)) continue;
    const auto* rs = wire::GetReadingBatch(batch->body()->data())->readings();
    for (const engine::TrustedEntry& e : entries) {
      if (rs == nullptr || e.reading_index >= rs->size()) continue;
      const auto* rd = rs->Get(e.reading_index);
      if (rd->sensor_id()->str() == t->sensor_id()->str() &&
          (e.reading_index != t->reading_index() || rd->seq() == t->seq()))
        ++r.readings_match;
    }
  }
  return r;
}

// verify-stream over the outputs `prefix`-trusted.asy and `prefix`-att.asy of a run.
connectors::VerifyReport verify_outputs(const Fleet& f, const std::string& prefix) {
  std::vector<connectors::StoredRecord> trusted, atts;
  std::string error;
  EXPECT_TRUE(
      connectors::read_stored_file((f.dir / (prefix + "-trusted.asy")).string(), &trusted, &error))
      << error;
  EXPECT_TRUE(connectors::read_stored_file((f.dir / (prefix + "-att.asy")).string(), &atts, &error))
      << error;
  connectors::VerifyOptions opt;
  opt.public_key = engine::EngineKey::load((f.dir / "engine.pem").string())->public_key();
  return connectors::verify_stream(trusted, atts, opt);
}

size_t total_bytes(const std::vector<std::vector<uint8_t>>& recs) {
  size_t n = 0;
  for (const auto& r : recs) n += r.size();
  return n;
}

// Output bytes per reading of a run: its trusted and attestations records.
double out_bytes_per_reading(const Fleet& f, const std::string& prefix) {
  const auto t = engine::read_frame_file((f.dir / (prefix + "-trusted.asy")).string());
  const auto a = engine::read_frame_file((f.dir / (prefix + "-att.asy")).string());
  return static_cast<double>(total_bytes(t) + total_bytes(a)) / static_cast<double>(f.readings);
}

TEST(SignedBatchesCarriedOnce, EveryReadingReverifiesFromTheOutputAlone) {
  for (uint32_t per_batch : {8u, 64u}) {
    SCOPED_TRACE("readings per batch " + std::to_string(per_batch));
    const auto f = simulate(per_batch);
    ASSERT_GT(f->readings, f->frames * (per_batch / 2));  // mostly full batches
    const engine::RunSummary once = run(*f, "once", "once");
    ASSERT_TRUE(once.ok) << once.error;
    const engine::RunSummary every = run(*f, "every", "every");
    ASSERT_TRUE(every.ok) << every.error;
    ASSERT_EQ(once.trusted, f->readings);  // a clean fleet: every reading is trusted
    ASSERT_EQ(every.trusted, f->readings);

    const auto t_once = engine::read_frame_file((f->dir / "once-trusted.asy").string());
    const auto t_every = engine::read_frame_file((f->dir / "every-trusted.asy").string());
    const Reverified a = reverify(*f, t_once);
    EXPECT_EQ(a.readings, f->readings);
    EXPECT_EQ(a.carriers, f->frames);  // one carrier per batch (one sensor each)
    EXPECT_EQ(a.references, f->readings - f->frames);
    EXPECT_TRUE(a.missing.empty());
    EXPECT_EQ(a.signatures_ok, f->readings);
    EXPECT_EQ(a.readings_match, f->readings);
    const Reverified b = reverify(*f, t_every);  // stream v1 layout: every record carries them
    EXPECT_EQ(b.carriers, f->readings);
    EXPECT_EQ(b.references, 0u);
    EXPECT_EQ(b.signatures_ok, f->readings);
    EXPECT_EQ(b.readings_match, f->readings);

    // The verdicts are the same either way: the records differ only in where the bytes are.
    ASSERT_EQ(t_once.size(), t_every.size());
    for (size_t i = 0; i < t_once.size(); ++i) {
      const auto* x = wire::GetTrustedReading(t_once[i].data());
      const auto* y = wire::GetTrustedReading(t_every[i].data());
      EXPECT_EQ(x->sensor_id()->str(), y->sensor_id()->str());
      EXPECT_EQ(x->seq(), y->seq());
      EXPECT_EQ(x->signature_verdict(), y->signature_verdict());
      EXPECT_EQ(x->provenance()->chain_index(), y->provenance()->chain_index());
    }

    // Bytes per reading (trusted + attestations) against the input's.
    const double in = static_cast<double>(f->input_bytes) / static_cast<double>(f->readings);
    const double out_once = out_bytes_per_reading(*f, "once");
    const double out_every = out_bytes_per_reading(*f, "every");
    std::printf(
        "[ bytes ] %u readings per batch: input %.0f B/reading; output with provenance "
        "%.0f B/reading once (%.2fx input), %.0f every (%.2fx)\n",
        per_batch, in, out_once, out_once / in, out_every, out_every / in);
    EXPECT_LT(out_once, out_every / 2);

    // The chains cover the references like any record: verify-stream passes.
    const connectors::VerifyReport rep = verify_outputs(*f, "once");
    EXPECT_TRUE(rep.ok()) << (rep.findings.empty() ? "" : rep.findings[0].kind);
    EXPECT_EQ(rep.records, f->readings);
  }
}

// A reference whose carrier is missing, or whose carrier's bytes are not the ones it names,
// is never resolved to other bytes.
TEST(SignedBatchesCarriedOnce, AReferenceResolvesOnlyToItsOwnCarrier) {
  const auto f = simulate(8);
  const engine::RunSummary s = run(*f, "once", "once");
  ASSERT_TRUE(s.ok) << s.error;
  auto recs = engine::read_frame_file((f->dir / "once-trusted.asy").string());
  ASSERT_GE(recs.size(), 16u);
  ASSERT_NE(wire::GetTrustedReading(recs[0].data())->signed_bytes(), nullptr);
  ASSERT_NE(wire::GetTrustedReading(recs[8].data())->signed_bytes(), nullptr);

  // Without the first carrier: its batch's 7 references find none (not the next batch's).
  {
    std::vector<std::vector<uint8_t>> cut(recs.begin() + 1, recs.end());
    Reverified r = reverify(*f, cut);
    EXPECT_EQ(r.missing[Missing::kNoCarrier], 7u);
    EXPECT_EQ(r.signatures_ok, f->readings - 8);
  }
  // A carrier whose signed bytes changed (one byte of its body): its references refuse them.
  {
    auto changed = recs;
    const auto* sb = wire::GetTrustedReading(changed[8].data())->signed_bytes();
    const auto* batch = wire::GetSignedBatch(sb->data());
    const size_t at = static_cast<size_t>(batch->body()->data() - changed[8].data()) + 20;
    changed[8][at] ^= 0x01;
    Reverified r = reverify(*f, changed);
    EXPECT_EQ(r.missing[Missing::kMismatch], 7u);
    EXPECT_EQ(r.signatures_ok, f->readings - 8);  // the carrier's own signature fails too
  }
}

// `assay prove` for a reading whose bytes are carried by its batch's first reading: the proof
// includes the carrier's proof, so the proof alone re-verifies the reading's signature.
TEST(SignedBatchesCarriedOnce, AProofOfAReferenceIncludesItsCarrier) {
  const auto f = simulate(8);
  const engine::RunSummary s = run(*f, "once", "once");
  ASSERT_TRUE(s.ok) << s.error;
  std::vector<connectors::StoredRecord> trusted, atts;
  std::string error;
  ASSERT_TRUE(
      connectors::read_stored_file((f->dir / "once-trusted.asy").string(), &trusted, &error));
  ASSERT_TRUE(connectors::read_stored_file((f->dir / "once-att.asy").string(), &atts, &error));
  const auto key = engine::EngineKey::load((f->dir / "engine.pem").string())->public_key();
  // Offset 11: the 4th reading of the second batch (its carrier is at offset 8).
  connectors::InclusionProof proof;
  ASSERT_TRUE(connectors::make_inclusion_proof(trusted, atts, 0, 11, &proof, &error)) << error;
  ASSERT_EQ(proof.carrier.size(), 1u);
  EXPECT_EQ(proof.carrier[0].offset, 8);
  EXPECT_TRUE(connectors::verify_inclusion_proof(proof, key).empty());
  connectors::InclusionProof again;  // through its JSON
  ASSERT_TRUE(connectors::InclusionProof::parse(proof.json(), &again, &error)) << error;
  ASSERT_EQ(again.carrier.size(), 1u);
  EXPECT_EQ(again.carrier[0].record, proof.carrier[0].record);
  EXPECT_TRUE(connectors::verify_inclusion_proof(again, key).empty());
  // The proof alone re-verifies the reading's signature.
  engine::SignedBytesResolver resolver;
  engine::SignedBytesResolver::Missing missing{};
  resolver.resolve(*wire::GetTrustedReading(again.carrier[0].record.data()), &missing);
  const auto bytes = resolver.resolve(*wire::GetTrustedReading(again.record.data()), &missing);
  ASSERT_FALSE(bytes.empty()) << engine::SignedBytesResolver::name(missing);
  const auto* batch = wire::GetSignedBatch(bytes.data());
  EXPECT_TRUE(ed25519_ok(f->keys.at(batch->key_id()->str()),
                         {batch->signature()->data(), batch->signature()->size()},
                         {batch->body()->data(), batch->body()->size()}));
  // Without the carrier, with another batch's carrier, with a carrier whose bytes changed.
  auto without = proof;
  without.carrier.clear();
  EXPECT_EQ(connectors::verify_inclusion_proof(without, key).size(), 1u);
  connectors::InclusionProof other;
  ASSERT_TRUE(connectors::make_inclusion_proof(trusted, atts, 0, 0, &other, &error)) << error;
  auto wrong = proof;
  wrong.carrier[0] = other;
  const auto why_wrong = connectors::verify_inclusion_proof(wrong, key);
  ASSERT_EQ(why_wrong.size(), 2u);  // another input record, other bytes
  EXPECT_NE(why_wrong[0].find("not an earlier record of the same chain, input record"),
            std::string::npos);
  auto changed = proof;
  auto& rec = changed.carrier[0].record;
  const auto* sb = wire::GetTrustedReading(rec.data())->signed_bytes();
  rec[static_cast<size_t>(sb->data() - rec.data()) + 40] ^= 0x01;
  const auto why_changed = connectors::verify_inclusion_proof(changed, key);
  EXPECT_GE(why_changed.size(), 2u);  // the carrier's record hash, and the reference's hash
  bool hash_named = false;
  for (const auto& w : why_changed)
    hash_named = hash_named || w.find("do not hash") != std::string::npos;
  EXPECT_TRUE(hash_named);
  // A reading that carries its own bytes gets no carrier.
  EXPECT_TRUE(other.carrier.empty());
}

// Grouped trusted records (engine.trusted_records: grouped; docs/wire-contract.md "Grouped
// trusted records"): one TrustedReading per sensor and input record, carrying the signed bytes
// once and standing for every trusted reading of that sensor there.
TEST(GroupedTrustedRecords, EveryReadingReverifiesFromTheOutputAlone) {
  for (uint32_t per_batch : {8u, 64u}) {
    SCOPED_TRACE("readings per batch " + std::to_string(per_batch));
    const auto f = simulate(per_batch);
    const engine::RunSummary g = run(*f, "grouped", "once", "grouped");
    ASSERT_TRUE(g.ok) << g.error;
    const engine::RunSummary once = run(*f, "once", "once");
    ASSERT_TRUE(once.ok) << once.error;
    EXPECT_EQ(g.trusted, f->readings);  // counted in readings, as before
    EXPECT_EQ(once.trusted, f->readings);

    const auto t_g = engine::read_frame_file((f->dir / "grouped-trusted.asy").string());
    const Reverified a = reverify(*f, t_g);
    EXPECT_EQ(a.records, f->frames);  // one record per batch (one sensor each)
    EXPECT_EQ(a.readings, f->readings);
    EXPECT_EQ(a.bad_groups, 0u);
    EXPECT_EQ(a.carriers, f->frames);
    EXPECT_EQ(a.references, 0u);
    EXPECT_TRUE(a.missing.empty());
    EXPECT_EQ(a.signatures_ok, f->readings);
    EXPECT_EQ(a.readings_match, f->readings);

    // Bytes per reading (trusted + attestations) against the input's and the per-reading layout's.
    const double in = static_cast<double>(f->input_bytes) / static_cast<double>(f->readings);
    const double out_g = out_bytes_per_reading(*f, "grouped");
    const double out_once = out_bytes_per_reading(*f, "once");
    std::printf(
        "[ bytes ] %u readings per batch: input %.0f B/reading; output with provenance "
        "%.0f B/reading grouped (%.2fx input), %.0f per reading (%.2fx)\n",
        per_batch, in, out_g, out_g / in, out_once, out_once / in);
    EXPECT_LT(out_g, out_once / 2);
    EXPECT_LT(out_g, 1.5 * in);

    // The chain covers grouped records like any record: verify-stream passes.
    const connectors::VerifyReport rep = verify_outputs(*f, "grouped");
    EXPECT_TRUE(rep.ok()) << (rep.findings.empty() ? "" : rep.findings[0].kind);
    EXPECT_EQ(rep.records, f->frames);
  }
}

// `assay prove --sensor --seq` (connectors::find_reading): the 6th reading of the third batch
// is found by its sensor and seq, in the middle of its grouped record or as its own record, and
// its proof names it and verifies alone; a wrong seq, an index the record does not stand for,
// a reading named inside a carrier's proof, and readings the stream does not hold are refused.
TEST(GroupedTrustedRecords, AProofOfOneReadingNamesItsSensorAndSeq) {
  const auto f = simulate(8);
  ASSERT_TRUE(run(*f, "grouped", "once", "grouped").ok);
  ASSERT_TRUE(run(*f, "once", "once").ok);
  const auto key = engine::EngineKey::load((f->dir / "engine.pem").string())->public_key();
  for (const std::string layout : {"grouped", "once"}) {
    SCOPED_TRACE(layout);
    std::vector<connectors::StoredRecord> trusted, atts;
    std::string error;
    ASSERT_TRUE(connectors::read_stored_file((f->dir / (layout + "-trusted.asy")).string(),
                                             &trusted, &error));
    ASSERT_TRUE(
        connectors::read_stored_file((f->dir / (layout + "-att.asy")).string(), &atts, &error));
    // The reading, from the third input record itself (no faults: one record per batch, or one
    // per reading, in input order).
    const auto in = engine::read_frame_file((f->dir / "in.asy").string());
    ASSERT_GE(in.size(), 3u);
    const wire::Reading* r = engine::reading_in_signed_bytes(in[2], 5);
    ASSERT_NE(r, nullptr);
    const std::string sensor = r->sensor_id()->str();
    const uint64_t seq = r->seq();
    const auto found = connectors::find_reading(trusted, sensor, seq);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].offset, layout == "grouped" ? 2 : 2 * 8 + 5);
    EXPECT_EQ(found[0].reading_index, 5u);
    connectors::InclusionProof proof;
    ASSERT_TRUE(connectors::make_inclusion_proof(trusted, atts, found[0].partition, found[0].offset,
                                                 &proof, &error))
        << error;
    proof.reading_index = 5;
    proof.reading_seq = seq;
    connectors::InclusionProof again;  // through its JSON
    ASSERT_TRUE(connectors::InclusionProof::parse(proof.json(), &again, &error)) << error;
    EXPECT_EQ(again.reading_index, 5);
    EXPECT_EQ(again.reading_seq, seq);
    EXPECT_TRUE(connectors::verify_inclusion_proof(again, key).empty());
    auto wrong_seq = again;
    wrong_seq.reading_seq = seq + 1;
    const auto why_seq = connectors::verify_inclusion_proof(wrong_seq, key);
    ASSERT_EQ(why_seq.size(), 1u);
    EXPECT_NE(why_seq[0].find("of the record has seq " + std::to_string(seq)), std::string::npos)
        << why_seq[0];
    auto wrong_index = again;
    wrong_index.reading_index = 8;  // past the batch
    const auto why_index = connectors::verify_inclusion_proof(wrong_index, key);
    ASSERT_EQ(why_index.size(), 1u);
    EXPECT_NE(why_index[0].find("does not stand for reading 8"), std::string::npos) << why_index[0];
    // A proof of the record alone still verifies and names no reading.
    connectors::InclusionProof plain;
    ASSERT_TRUE(connectors::make_inclusion_proof(trusted, atts, found[0].partition, found[0].offset,
                                                 &plain, &error));
    EXPECT_EQ(plain.json().find("reading_index"), std::string::npos);
    EXPECT_TRUE(connectors::verify_inclusion_proof(plain, key).empty());
    EXPECT_EQ(plain.carrier.empty(), layout == "grouped");  // grouped records hold their bytes
    if (!plain.carrier.empty()) {  // a reading named inside the carrier's proof is refused
      std::string text = plain.json();
      const size_t c = text.find("\"carrier\":{") + 11;
      text.insert(c, "\"reading_index\":5,\"reading_seq\":" + std::to_string(seq) + ",");
      connectors::InclusionProof moved;
      EXPECT_FALSE(connectors::InclusionProof::parse(text, &moved, &error));
      EXPECT_NE(error.find("a carrier's proof names no reading"), std::string::npos) << error;
    }
    EXPECT_TRUE(connectors::find_reading(trusted, sensor, seq + 100000).empty());
    EXPECT_TRUE(connectors::find_reading(trusted, sensor + "x", seq).empty());
  }
}

// What a stream says about one reading.
struct Said {
  std::string sensor;
  uint64_t seq = 0;
  int signature = 0, calibration = 0, drift = 0;
  uint64_t stat_bits = 0;  // drift_statistic, bitwise (a NaN equals itself)
  uint32_t anomaly = 0;
  std::string cert;
  double corrected = 0, uncertainty = 0, coverage = 0;
  bool operator==(const Said&) const = default;
};

Said said(const wire::TrustedReading& t, const engine::TrustedEntry& e, uint64_t seq) {
  Said s;
  s.sensor = t.sensor_id()->str();
  s.seq = seq;
  s.signature = static_cast<int>(e.signature_verdict);
  s.calibration = static_cast<int>(e.calibration_verdict);
  s.drift = static_cast<int>(e.drift_level);
  std::memcpy(&s.stat_bits, &e.drift_statistic, sizeof(double));
  s.anomaly = static_cast<uint32_t>(e.anomaly_flags);
  s.cert = std::string(e.calibration_certificate_id);
  s.corrected = e.corrected_value;
  s.uncertainty = e.expanded_uncertainty;
  s.coverage = e.coverage_factor;
  return s;
}

struct Expanded {
  std::map<std::pair<int64_t, uint32_t>, Said> readings;  // (source offset, reading index)
  size_t records = 0, groups = 0, mixed = 0, corrected_groups = 0, partial_groups = 0;
};

// Every reading a trusted stream stands for, with what it says about it.
Expanded expand(const std::vector<std::vector<uint8_t>>& trusted) {
  Expanded x;
  engine::SignedBytesResolver resolver;
  std::vector<engine::TrustedEntry> entries;
  for (const auto& rec : trusted) {
    const auto* t = wire::GetTrustedReading(rec.data());
    ++x.records;
    std::string bad;
    EXPECT_TRUE(engine::trusted_entries(*t, &entries, &bad)) << bad;
    Missing why{};
    const auto sb = resolver.resolve(*t, &why);
    EXPECT_FALSE(sb.empty()) << engine::SignedBytesResolver::name(why);
    if (sb.empty()) continue;
    const auto* body = wire::GetSignedBatch(sb.data())->body();
    const auto* rs = wire::GetReadingBatch(body->data())->readings();
    if (entries.size() > 1) {
      ++x.groups;
      x.corrected_groups += t->group_corrected_values() != nullptr;
      x.partial_groups += entries.size() < rs->size();
      bool mixed = false;
      for (const auto& e : entries)
        mixed = mixed || e.drift_level != entries[0].drift_level ||
                e.anomaly_flags != entries[0].anomaly_flags ||
                e.calibration_verdict != entries[0].calibration_verdict;
      x.mixed += mixed;
    }
    for (engine::TrustedEntry& e : entries) {
      const auto* rd = rs->Get(e.reading_index);
      engine::derive_uncorrected(e, *rd);
      const bool fresh =
          x.readings
              .emplace(std::make_pair(t->provenance()->source_offset(), e.reading_index),
                       said(*t, e, rd->seq()))
              .second;
      EXPECT_TRUE(fresh) << "a reading stood for twice";
    }
  }
  return x;
}

// The same readings, verdicts and values either way: each reading of a grouped record
// (expanded with engine::trusted_entries) equals the per-reading record of that reading, on a
// fleet whose batches mix verdicts and values (calibration, spikes, stuck values, drift,
// replays rejected from the middle of a batch).
TEST(GroupedTrustedRecords, StandForTheSameReadingsAsPerReadingRecords) {
  const auto f = simulate(8, true);
  const engine::RunSummary per = run(*f, "per", "once", "per_reading", true);
  ASSERT_TRUE(per.ok) << per.error;
  const engine::RunSummary grp = run(*f, "grp", "once", "grouped", true);
  ASSERT_TRUE(grp.ok) << grp.error;
  EXPECT_EQ(grp.trusted, per.trusted);
  EXPECT_EQ(grp.rejected, per.rejected);
  EXPECT_GT(per.rejected, 0u);  // replays, readings out of tolerance
  const auto t_per = engine::read_frame_file((f->dir / "per-trusted.asy").string());
  const auto t_grp = engine::read_frame_file((f->dir / "grp-trusted.asy").string());
  const Expanded a = expand(t_per);
  const Expanded b = expand(t_grp);
  EXPECT_EQ(a.records, per.trusted);
  EXPECT_EQ(a.groups, 0u);
  EXPECT_EQ(b.readings.size(), per.trusted);
  EXPECT_LT(b.records, a.records / 4);
  EXPECT_GT(b.mixed, 0u);             // a batch whose readings got different verdicts
  EXPECT_GT(b.corrected_groups, 0u);  // calibrated readings: their values per reading
  EXPECT_GT(b.partial_groups, 0u);    // a reading of the batch rejected, the others grouped
  ASSERT_EQ(a.readings.size(), b.readings.size());
  size_t differ = 0;
  for (const auto& [at, s] : a.readings) {
    const auto it = b.readings.find(at);
    if (it == b.readings.end() || !(it->second == s)) {
      if (++differ <= 5)
        ADD_FAILURE() << "reading " << at.first << "/" << at.second << " of " << s.sensor
                      << " differs between the layouts";
    }
  }
  EXPECT_EQ(differ, 0u);
  // The same alerts (drift state does not depend on the output layout).
  EXPECT_EQ(engine::read_frame_file((f->dir / "per-alerts.asy").string()).size(),
            engine::read_frame_file((f->dir / "grp-alerts.asy").string()).size());
  // And the grouped stream verifies.
  EXPECT_TRUE(verify_outputs(*f, "grp").ok());
}

// A grouped record whose group fields do not fit together is refused by trusted_entries with
// its reason, never read past its vectors.
TEST(GroupedTrustedRecords, InconsistentGroupFieldsAreRefused) {
  auto build = [](std::vector<uint32_t> idx, uint32_t own, size_t drift_levels, bool stray) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto i = stray ? 0 : fbb.CreateVector(idx);
    std::vector<wire::DriftLevel> dl(drift_levels, wire::DriftLevel::Ok);
    const auto d = drift_levels > 0 ? fbb.CreateVector(dl) : 0;
    wire::TrustedReadingBuilder tb(fbb);
    tb.add_reading_index(own);
    if (!i.IsNull()) tb.add_group_reading_indexes(i);
    if (!d.IsNull()) tb.add_group_drift_levels(d);
    wire::FinishTrustedReadingBuffer(fbb, tb.Finish());
    return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  std::vector<engine::TrustedEntry> out;
  std::string why;
  const auto ok = build({2, 3, 5}, 2, 3, false);
  ASSERT_TRUE(engine::trusted_entries(*wire::GetTrustedReading(ok.data()), &out, &why)) << why;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].reading_index, 5u);
  EXPECT_EQ(out[1].drift_level, wire::DriftLevel::Ok);
  EXPECT_FALSE(out[1].values_given);  // left to the reading (no calibration)
  EXPECT_TRUE(out[0].values_given);   // the record's own fields
  const std::pair<std::vector<uint8_t>, const char*> bad[] = {
      {build({2, 3, 5}, 2, 2, false), "length differs"},
      {build({2, 3, 5}, 3, 0, false), "does not start with reading_index"},
      {build({2, 5, 3}, 2, 0, false), "not ascending"},
      {build({2, 2}, 2, 0, false), "not ascending"},
      {build({}, 0, 0, false), "is empty"},
      {build({}, 0, 2, true), "without group_reading_indexes"},
  };
  for (const auto& [rec, want] : bad) {
    why.clear();
    EXPECT_FALSE(engine::trusted_entries(*wire::GetTrustedReading(rec.data()), &out, &why));
    EXPECT_NE(why.find(want), std::string::npos) << why;
  }
}

TEST(SignedBatchesCarriedOnce, ConfigAcceptsOnceAndEveryOnly) {
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  engine::Metrics metrics;
  // An engine setting the pipeline must refuse at its line (4), naming the accepted values.
  auto refused = [&](const std::string& setting, const std::string& accepted) {
    const std::string y =
        "name: x\ninput: {type: file, path: /dev/null}\n"
        "routes: {trusted: {type: file, path: /dev/null}, rejected: {type: file, path: "
        "/dev/null}}\nengine: {" +
        setting + "}\n";
    try {
      engine::build_pipeline(engine::ConfigNode::load_string(y, "p.yaml"), y, reg, metrics);
      ADD_FAILURE() << "accepted " << setting;
    } catch (const engine::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("p.yaml:4:"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(accepted), std::string::npos) << e.what();
    }
  };
  refused("signed_bytes: twice", "once or every");
  refused("trusted_records: batched", "per_reading or grouped");
}

}  // namespace
}  // namespace assay::operators
