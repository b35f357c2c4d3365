// The provenance operator end to end over files: hash chains, signed Merkle checkpoints,
// verify-stream's findings on tampered streams, restarts that continue the chain, proofs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include "../engine/records.hpp"
#include "connectors/builtin.hpp"
#include "connectors/framing.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/runner.hpp"
#include "engine/signing_key.hpp"
#include "operators/builtin.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;
using connectors::StoredRecord;
using engine::Hash32;

// RFC 8410 section 10.3 example private key.
constexpr char kPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("assay-prov-" + std::to_string(getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(path);
    std::ofstream(path / "engine.pem") << kPem;
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_input(const fs::path& p, int n, int first_seq, bool garbage = true) {
  connectors::FrameWriter w;
  ASSERT_TRUE(w.open(p.string()));
  for (int i = 0; i < n; ++i) {
    if (garbage && i % 37 == 5) {
      ASSERT_TRUE(w.write(std::vector<uint8_t>(40, 0xAB)));  // rejected, not chained
      continue;
    }
    ASSERT_TRUE(
        w.write(testing::make_reading("urn:s:" + std::to_string(i % 7), first_seq + i, i * 0.25)));
  }
  ASSERT_TRUE(w.close());
}

std::string yaml(const fs::path& d, bool provenance = true, int every = 100) {
  std::string y =
      "name: prov\n"
      "input: {type: file, path: " +
      (d / "in.asy").string() +
      "}\n"
      "routes:\n"
      "  trusted: {type: file, append: true, path: " +
      (d / "trusted.asy").string() +
      "}\n"
      "  rejected: {type: file, path: " +
      (d / "rejected.asy").string() + "}\n";
  if (provenance)
    y += "  attestations: {type: file, append: true, path: " + (d / "att.asy").string() +
         "}\n"
         "operators:\n"
         "  - {type: provenance, key: " +
         (d / "engine.pem").string() + ", checkpoint: {every_records: " + std::to_string(every) +
         ", every_ms: 600000}}\n";
  return y + "engine: {batch_size: 64, max_in_flight: 4}\n";
}

engine::RunSummary run(const fs::path& d, bool provenance = true, int every = 100) {
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  engine::Metrics metrics;
  const std::string y = yaml(d, provenance, every);
  auto root = engine::ConfigNode::load_string(y, (d / "p.yaml").string());
  auto p = engine::build_pipeline(root, y, reg, metrics);
  engine::Runner runner(*p, metrics);
  return runner.run();
}

std::array<uint8_t, 32> public_key(const fs::path& d) {
  return engine::EngineKey::load((d / "engine.pem").string())->public_key();
}

std::vector<StoredRecord> load(const fs::path& p) {
  std::vector<StoredRecord> out;
  std::string err;
  EXPECT_TRUE(connectors::read_stored_file(p.string(), &out, &err)) << err;
  return out;
}

connectors::VerifyReport verify(const fs::path& d, const std::vector<StoredRecord>& t,
                                const std::vector<StoredRecord>& a) {
  connectors::VerifyOptions o;
  o.public_key = public_key(d);
  return connectors::verify_stream(t, a, o);
}

// Offset of the middle byte of signed_bytes (a flip there keeps the buffer well-formed).
size_t inside_signed_bytes(const std::vector<uint8_t>& rec) {
  const auto* sb = wire::GetTrustedReading(rec.data())->signed_bytes();
  return static_cast<size_t>(sb->data() - rec.data()) + sb->size() / 2;
}

void renumber(std::vector<StoredRecord>& v) {
  for (size_t i = 0; i < v.size(); ++i) v[i].offset = static_cast<int64_t>(i);
}

std::set<int64_t> offsets_named(const connectors::VerifyReport& r, const std::string& stream) {
  std::set<int64_t> s;
  for (const auto& f : r.findings)
    if (f.stream == stream) s.insert(f.offset);
  return s;
}

std::string dump(const connectors::VerifyReport& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.json() + "\n";
  return s;
}

bool has(const connectors::VerifyReport& r, const std::string& kind, int64_t offset) {
  for (const auto& f : r.findings)
    if (f.kind == kind && f.offset == offset) return true;
  return false;
}

TEST(Provenance, ChainsEveryTrustedRecordAndSignsCheckpoints) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 1030, 0);
  const auto s = run(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const auto t = load(tmp.path / "trusted.asy");
  const auto a = load(tmp.path / "att.asy");
  ASSERT_EQ(t.size(), s.trusted);
  ASSERT_GT(s.rejected, 0u);
  // Every record carries its chain index and links to the one before.
  Hash32 prev{};
  for (size_t i = 0; i < t.size(); ++i) {
    engine::ChainFields f;
    ASSERT_TRUE(engine::find_chain_fields(t[i].bytes, &f));
    EXPECT_EQ(engine::u64_at(t[i].bytes, f.chain_index), i);
    EXPECT_EQ(engine::hash_at(t[i].bytes, f.prev_hash), prev);
    prev = engine::hash_at(t[i].bytes, f.record_hash);
  }
  // Checkpoints every 100 records plus the final one for the tail.
  ASSERT_EQ(a.size(), (t.size() + 99) / 100);
  engine::CheckpointInfo last;
  std::string err;
  ASSERT_TRUE(engine::decode_checkpoint(a.back().bytes, &last, &err)) << err;
  EXPECT_EQ(last.last, static_cast<int64_t>(t.size()) - 1);
  EXPECT_EQ(last.chain_head, prev);
  EXPECT_EQ(last.topic, "file:" + (tmp.path / "trusted.asy").string());
  // The first checkpoint's root, recomputed independently: RFC 9162 over SHA-256(0x00 ||
  // record_hash) of records 0..99, with OpenSSL's one-shot SHA-256 (engine/bytes.hpp).
  auto sha = [](const std::string& bytes) {
    const auto d = engine::sha256(bytes);
    Hash32 out;
    std::copy(d.begin(), d.end(), out.begin());
    return out;
  };
  std::vector<Hash32> level;
  for (size_t i = 0; i < 100; ++i) {
    // leaf = SHA-256(0x00 || record), the record exactly as written (RFC 9162, issue 6).
    level.push_back(sha(std::string(1, '\0') +
                        std::string(reinterpret_cast<const char*>(t[i].bytes.data()),
                                    t[i].bytes.size())));
  }
  // 100 leaves: MTH = node(MTH(0..63), MTH(64..99)); MTH(64..99) = node(MTH(64..95), MTH(96..99)).
  std::function<Hash32(size_t, size_t)> mth = [&](size_t lo, size_t n) -> Hash32 {
    if (n == 1) return level[lo];
    size_t k = 1;
    while (k * 2 < n) k *= 2;
    const Hash32 l = mth(lo, k), r = mth(lo + k, n - k);
    return sha(std::string(1, '\1') + std::string(l.begin(), l.end()) +
               std::string(r.begin(), r.end()));
  };
  engine::CheckpointInfo first;
  ASSERT_TRUE(engine::decode_checkpoint(a.front().bytes, &first, &err)) << err;
  EXPECT_EQ(first.first, 0);
  EXPECT_EQ(first.last, 99);
  EXPECT_EQ(first.merkle_root, mth(0, 100));
  // The canonical signing bytes, built by hand from docs/provenance.md.
  std::string canon = "assay-checkpoint-v1";
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) canon.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto str = [&](const std::string& x) {
    le(x.size(), 4);
    canon += x;
  };
  str(first.topic);
  le(0, 4);
  le(0, 8);
  le(99, 8);
  le(100, 8);
  for (const Hash32* hsh : {&first.merkle_root, &first.chain_head, &first.prev_chain_head})
    canon.append(hsh->begin(), hsh->end());
  str(first.key_id);
  str("prov");
  str(first.instance);
  le(static_cast<uint64_t>(first.time_ns), 8);
  const std::vector<uint8_t> cb(canon.begin(), canon.end());
  EXPECT_EQ(cb, engine::checkpoint_signing_bytes(first));
  EXPECT_TRUE(engine::verify_engine_signature(public_key(tmp.path), cb, first.signature));
  EXPECT_EQ(first.prev_chain_head, Hash32{});
  const auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.records, t.size());
  EXPECT_EQ(r.checkpoints, a.size());
  // The wrong public key fails every checkpoint.
  connectors::VerifyOptions o;
  o.public_key = public_key(tmp.path);
  o.public_key[0] ^= 1;
  EXPECT_EQ(connectors::verify_stream(t, a, o).findings.size(), a.size());
}

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    write_input(tmp.path / "in.asy", 800, 0, false);
    const auto s = run(tmp.path);
    ASSERT_TRUE(s.ok) << s.error;
    t = load(tmp.path / "trusted.asy");
    a = load(tmp.path / "att.asy");
    ASSERT_EQ(t.size(), 800u);
    ASSERT_TRUE(verify(tmp.path, t, a).ok());
  }
  TempDir tmp;
  std::vector<StoredRecord> t, a;
};

TEST_F(Tamper, FlippedByteIsNamed) {
  t[437].bytes[inside_signed_bytes(t[437].bytes)] ^= 0x01;
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "record_altered", 437)) << dump(r);
  EXPECT_EQ(offsets_named(r, "trusted"), std::set<int64_t>{437}) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", 4)) << dump(r);  // checkpoint of [400,499]
}

TEST_F(Tamper, DeletedRecordIsNamed) {
  t.erase(t.begin() + 250);
  renumber(t);
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "chain_break", 250)) << dump(r);
  EXPECT_TRUE(has(r, "missing", 250)) << dump(r);
  EXPECT_TRUE(has(r, "offset_mismatch", 250)) << dump(r);  // offsets shift from here on
  EXPECT_EQ(offsets_named(r, "trusted"), std::set<int64_t>{250}) << dump(r);
}

TEST_F(Tamper, SwappedRecordsAreNamed) {
  std::swap(t[600], t[601]);
  renumber(t);
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "chain_break", 600)) << dump(r);
  EXPECT_TRUE(has(r, "chain_break", 601)) << dump(r);
  EXPECT_TRUE(has(r, "offset_mismatch", 600)) << dump(r);
  EXPECT_TRUE(has(r, "offset_mismatch", 601)) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", 6)) << dump(r);
  // Named: the two swapped records and the first one after them (its link back is broken).
  EXPECT_EQ(offsets_named(r, "trusted"), (std::set<int64_t>{600, 601, 602})) << dump(r);
}

TEST_F(Tamper, InsertedForgeryIsNamed) {
  // A forger who knows the format: a changed copy of record 300, correctly linked to 299 and
  // with a correct record_hash, placed before the original.
  StoredRecord forged = t[300];
  engine::ChainFields f;
  ASSERT_TRUE(engine::find_chain_fields(forged.bytes, &f));
  forged.bytes[inside_signed_bytes(forged.bytes)] ^= 0x55;
  engine::Sha256 h;
  const Hash32 rh = engine::record_hash(h, forged.bytes, f);
  std::copy(rh.begin(), rh.end(), forged.bytes.begin() + static_cast<long>(f.record_hash));
  t.insert(t.begin() + 300, forged);
  renumber(t);
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "inserted", 300)) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", 3)) << dump(r);
  EXPECT_FALSE(has(r, "record_altered", 300)) << dump(r);
}

TEST_F(Tamper, ReplacedCheckpointSignatureIsNamed) {
  engine::CheckpointInfo ci;
  std::string err;
  ASSERT_TRUE(engine::decode_checkpoint(a[2].bytes, &ci, &err));
  ci.signature[10] ^= 0x80;
  a[2].bytes = engine::encode_checkpoint(ci);
  auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(has(r, "checkpoint_signature", 2)) << dump(r);
  EXPECT_EQ(r.findings.size(), 1u) << dump(r);
  // A checkpoint re-signed by another key over a forged root is refused as well.
  ASSERT_TRUE(engine::decode_checkpoint(a[5].bytes, &ci, &err));
  ci.merkle_root[0] ^= 1;
  const uint8_t seed[32] = {9};
  auto other = engine::EngineKey::from_seed(seed, ci.key_id);
  const auto sig = other->sign(engine::checkpoint_signing_bytes(ci));
  ci.signature.assign(sig.begin(), sig.end());
  a[5].bytes = engine::encode_checkpoint(ci);
  r = verify(tmp.path, t, a);
  EXPECT_TRUE(has(r, "checkpoint_signature", 5)) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", 5)) << dump(r);
}

TEST_F(Tamper, DroppedCheckpointAndTruncatedTailAreNamed) {
  auto a2 = a;
  a2.erase(a2.begin() + 3);
  renumber(a2);
  auto r = verify(tmp.path, t, a2);
  EXPECT_TRUE(has(r, "checkpoint_range", 3)) << dump(r);  // [400,499] does not continue at 300
  a.pop_back();
  r = verify(tmp.path, t, a);
  EXPECT_TRUE(has(r, "unattested", 700)) << dump(r);
  connectors::VerifyOptions o;
  o.public_key = public_key(tmp.path);
  o.allow_open_tail = true;
  EXPECT_TRUE(connectors::verify_stream(t, a, o).ok());
}

TEST_F(Tamper, ProofRoundTripAndTamperedProofs) {
  connectors::InclusionProof p;
  std::string err;
  ASSERT_TRUE(connectors::make_inclusion_proof(t, a, 0, 523, &p, &err)) << err;
  EXPECT_EQ(p.leaf_index, 23u);
  EXPECT_EQ(p.tree_size, 100u);
  connectors::InclusionProof q;
  ASSERT_TRUE(connectors::InclusionProof::parse(p.json(), &q, &err)) << err;
  const auto key = public_key(tmp.path);
  EXPECT_TRUE(connectors::verify_inclusion_proof(q, key).empty());
  auto bad = q;
  bad.audit_path[2][5] ^= 1;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  bad = q;
  bad.record[bad.record.size() / 2] ^= 1;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  bad = q;
  bad.leaf_index = 24;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  auto other = key;
  other[3] ^= 1;
  EXPECT_FALSE(connectors::verify_inclusion_proof(q, other).empty());
  // The final, partial range too.
  ASSERT_TRUE(connectors::make_inclusion_proof(t, a, 0, 799, &p, &err)) << err;
  EXPECT_TRUE(connectors::verify_inclusion_proof(p, key).empty());
}

TEST(Provenance, RestartContinuesTheChain) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 530, 0);
  auto s = run(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const size_t first = load(tmp.path / "trusted.asy").size();
  write_input(tmp.path / "in.asy", 470, 1000);
  s = run(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const auto t = load(tmp.path / "trusted.asy");
  const auto a = load(tmp.path / "att.asy");
  EXPECT_EQ(t.size(), first + s.trusted);
  const auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(r.ok()) << dump(r);
  engine::ChainFields f;
  ASSERT_TRUE(engine::find_chain_fields(t.back().bytes, &f));
  EXPECT_EQ(engine::u64_at(t.back().bytes, f.chain_index), t.size() - 1);
}

TEST(Provenance, RestartAfterALostCheckpointReReadsTheOpenRange) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 250, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  // A crash before the final checkpoint was written: drop it from the attestations file.
  auto a = load(tmp.path / "att.asy");
  ASSERT_EQ(a.size(), 3u);
  {
    connectors::FrameWriter w;
    ASSERT_TRUE(w.open((tmp.path / "att.asy").string()));
    for (size_t i = 0; i + 1 < a.size(); ++i) ASSERT_TRUE(w.write(a[i].bytes));
    ASSERT_TRUE(w.close());
  }
  write_input(tmp.path / "in.asy", 120, 500, false);
  const auto s = run(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const auto t = load(tmp.path / "trusted.asy");
  a = load(tmp.path / "att.asy");
  ASSERT_EQ(t.size(), 370u);
  EXPECT_TRUE(verify(tmp.path, t, a).ok()) << dump(verify(tmp.path, t, a));
  engine::CheckpointInfo ci;
  std::string err;
  ASSERT_TRUE(engine::decode_checkpoint(a[2].bytes, &ci, &err));
  EXPECT_EQ(ci.first, 200);  // the range the lost checkpoint would have closed
}

TEST(Provenance, RefusesToStartANewChainAfterUnchainedRecords) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 50, 0, false);
  ASSERT_TRUE(run(tmp.path, false).ok);  // trusted.asy now holds records without a chain
  const auto s = run(tmp.path, true);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("no hash chain"), std::string::npos) << s.error;
  EXPECT_EQ(load(tmp.path / "trusted.asy").size(), 50u);  // nothing was appended
}

TEST(Provenance, RefusesToContinueATamperedLastRecord) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 50, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  auto t = load(tmp.path / "trusted.asy");
  t.back().bytes[inside_signed_bytes(t.back().bytes)] ^= 1;
  connectors::FrameWriter w;
  ASSERT_TRUE(w.open((tmp.path / "trusted.asy").string()));
  for (const auto& r : t) ASSERT_TRUE(w.write(r.bytes));
  ASSERT_TRUE(w.close());
  const auto s = run(tmp.path);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("does not match its record_hash"), std::string::npos) << s.error;
}

TEST(Provenance, ConfigNeedsAttestationsAndKey) {
  TempDir tmp;
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  engine::Metrics metrics;
  std::string y = yaml(tmp.path);
  const auto att = y.find("  attestations:");
  std::string no_att = y.substr(0, att) + y.substr(y.find("operators:"));
  auto root = engine::ConfigNode::load_string(no_att, "p.yaml");
  EXPECT_THROW(engine::build_pipeline(root, no_att, reg, metrics), engine::ConfigError);
  std::string bad_key = y;
  bad_key.replace(bad_key.find("engine.pem"), 10, "nope.pem");
  root = engine::ConfigNode::load_string(bad_key, "p.yaml");
  EXPECT_THROW(engine::build_pipeline(root, bad_key, reg, metrics), engine::ConfigError);
  // attestations without the operator; a Kafka trusted route without `partition: source`.
  const std::string only_att = y.substr(0, y.find("operators:")) + "engine: {batch_size: 8}\n";
  root = engine::ConfigNode::load_string(only_att, "p.yaml");
  try {
    engine::build_pipeline(root, only_att, reg, metrics);
    ADD_FAILURE() << "attestations without provenance accepted";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs the provenance operator"), std::string::npos)
        << e.what();
  }
  std::string kafka = y;
  const auto tr = kafka.find("  trusted:");
  kafka.replace(tr, kafka.find('\n', tr) - tr,
                "  trusted: {type: kafka, brokers: 127.0.0.1:1, topic: t}");
  root = engine::ConfigNode::load_string(kafka, "p.yaml");
  try {
    engine::build_pipeline(root, kafka, reg, metrics);
    ADD_FAILURE() << "Kafka trusted route without partition: source accepted";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("partition: source"), std::string::npos) << e.what();
  }
}

TEST(Merkle, Rfc9162RootsAndInclusionProofs) {
  engine::Sha256 h;
  std::vector<Hash32> leaves;
  for (int i = 0; i < 21; ++i) {
    const uint8_t b[1] = {static_cast<uint8_t>(i)};
    leaves.push_back(engine::merkle_leaf(h, b));
  }
  // MTH of 3 leaves = node(node(l0, l1), l2) (RFC 9162 section 2.1.1).
  EXPECT_EQ(engine::merkle_root(std::span(leaves).subspan(0, 3)),
            engine::merkle_node(h, engine::merkle_node(h, leaves[0], leaves[1]), leaves[2]));
  EXPECT_EQ(engine::merkle_root(std::span(leaves).subspan(0, 1)), leaves[0]);
  for (size_t n = 1; n <= leaves.size(); ++n) {
    const auto sub = std::span(leaves).subspan(0, n);
    const Hash32 root = engine::merkle_root(sub);
    for (size_t i = 0; i < n; ++i) {
      const auto path = engine::merkle_audit_path(sub, i);
      EXPECT_TRUE(engine::merkle_verify_inclusion(leaves[i], i, n, path, root)) << n << " " << i;
      if (n > 1) {
        EXPECT_FALSE(engine::merkle_verify_inclusion(leaves[i], (i + 1) % n, n, path, root));
      }
    }
  }
}

// link_records() lays out prev || record and 0x00 || record in the headroom before each
// record. Both schedules (chain hash paired with the previous leaf on two SHA-256 lanes, and
// chain first, leaves after) must give the reference bytes: record_hash() and merkle_leaf()
// over each record as written, one at a time with OpenSSL.
TEST(Provenance, LinkRecordsMatchesTheReferenceInEveryMode) {
  for (size_t n : {0, 1, 2, 3, 17, 200}) {
    // An arena of TrustedReadings of varying sizes, each with kChainHeadroom bytes before it.
    std::vector<uint8_t> arena;
    std::vector<std::pair<size_t, size_t>> at;  // offset, size
    std::mt19937 rng(static_cast<unsigned>(n));
    for (size_t i = 0; i < n; ++i) {
      flatbuffers::FlatBufferBuilder fbb;
      const std::vector<uint8_t> zero(32, 0);
      const auto body = fbb.CreateVector(std::vector<uint8_t>(20 + rng() % 700, 0x5a));
      const auto sensor = fbb.CreateString("sensor-" + std::to_string(i));
      const auto prev = fbb.CreateVector(zero);
      const auto rh = fbb.CreateVector(zero);
      wire::ProvenanceBuilder pb(fbb);
      pb.add_prev_record_hash(prev);
      pb.add_record_hash(rh);
      fbb.ForceDefaults(true);
      pb.add_chain_index(0);
      fbb.ForceDefaults(false);
      const auto prov = pb.Finish();
      wire::TrustedReadingBuilder tb(fbb);
      tb.add_signed_bytes(body);
      tb.add_sensor_id(sensor);
      tb.add_provenance(prov);
      wire::FinishTrustedReadingBuffer(fbb, tb.Finish());
      const size_t off = ((arena.size() + 7) & ~size_t{7}) + engine::kChainHeadroom;
      arena.resize(off + fbb.GetSize(), 0xee);
      std::memcpy(arena.data() + off, fbb.GetBufferPointer(), fbb.GetSize());
      at.emplace_back(off, fbb.GetSize());
    }
    Hash32 start{};
    start[0] = 0x42;  // continuing a chain
    std::vector<std::vector<uint8_t>> written;
    std::vector<std::vector<Hash32>> all_leaves;
    for (auto mode : {engine::LinkMode::kPaired, engine::LinkMode::kSeparate,
                      engine::LinkMode::kAuto}) {
      std::vector<uint8_t> a = arena;
      std::vector<engine::ChainSlot> slots;
      for (const auto& [off, size] : at) {
        engine::ChainSlot s{{a.data() + off, size}, {}};
        ASSERT_TRUE(engine::find_chain_fields(s.record, &s.f));
        slots.push_back(s);
      }
      Hash32 head = start;
      uint64_t next = 7;
      std::vector<Hash32> heads(n), leaves(n);
      engine::link_records(slots, head, next, heads, leaves, mode);
      EXPECT_EQ(next, 7 + n);
      engine::Sha256 h;
      Hash32 prev = start;
      for (size_t i = 0; i < n; ++i) {
        const std::span<const uint8_t> rec(a.data() + at[i].first, at[i].second);
        EXPECT_EQ(engine::hash_at(rec, slots[i].f.prev_hash), prev) << i;
        EXPECT_EQ(engine::u64_at(rec, slots[i].f.chain_index), 7 + i) << i;
        EXPECT_EQ(engine::hash_at(rec, slots[i].f.record_hash), heads[i]) << i;
        EXPECT_EQ(engine::record_hash(h, rec, slots[i].f), heads[i]) << i;
        EXPECT_EQ(engine::merkle_leaf(h, rec), leaves[i]) << i;
        prev = heads[i];
      }
      EXPECT_EQ(head, prev);
      std::vector<uint8_t> records;
      for (const auto& [off, size] : at)
        records.insert(records.end(), a.begin() + static_cast<std::ptrdiff_t>(off),
                       a.begin() + static_cast<std::ptrdiff_t>(off + size));
      written.push_back(std::move(records));
      all_leaves.push_back(std::move(leaves));
    }
    EXPECT_EQ(written[0], written[1]) << n;
    EXPECT_EQ(written[0], written[2]) << n;
    EXPECT_EQ(all_leaves[0], all_leaves[1]) << n;
  }
}

}  // namespace
}  // namespace assay::operators
