// The provenance operator end to end over files (chain format v2): hash chains over per-record
// leaves, C2SP checkpoints of each chain's Merkle log, intents, verify-stream's findings on
// tampered streams (v2 and the v1 fixture), restarts that continue the chain only over records
// the engine can prove it wrote, proofs, and the Merkle machinery (frontiers, consistency).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "../engine/records.hpp"
#include "connectors/builtin.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/runner.hpp"
#include "engine/signed_note.hpp"
#include "engine/signing_key.hpp"
#include "engine/version.hpp"
#include "operators/builtin.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;
using connectors::StoredRecord;
using engine::Attestation;
using engine::AttestationKind;
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

// `per_record` > 1: each record a ReadingBatch of that many readings of one sensor.
void write_input(const fs::path& p, int n, int first_seq, bool garbage = true, int per_record = 1) {
  engine::FrameWriter w;
  ASSERT_TRUE(w.open(p.string()));
  for (int i = 0; i < n; ++i) {
    if (garbage && i % 37 == 5) {
      ASSERT_TRUE(w.write(std::vector<uint8_t>(40, 0xAB)));  // rejected, not chained
      continue;
    }
    const std::string sensor = "urn:s:" + std::to_string(i % 7);
    ASSERT_TRUE(w.write(
        per_record > 1
            ? testing::make_reading_batch(sensor, first_seq + uint64_t(i) * per_record, per_record)
            : testing::make_reading(sensor, first_seq + i, i * 0.25)));
  }
  ASSERT_TRUE(w.close());
}

std::string yaml(const fs::path& d, bool provenance = true, int every = 100,
                 const std::string& input = "in.asy", const std::string& extra_input = "",
                 bool audit = false, const std::string& engine_extra = "") {
  std::string y =
      "name: prov\n"
      "input: {type: file, path: " +
      (d / input).string() + extra_input +
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
  if (audit)
    y += "audit: {file: " + (d / "audit.log").string() + ", key: " + (d / "engine.pem").string() +
         ", fsync: false}\n";
  return y + "engine: {batch_size: 64, max_in_flight: 4" + engine_extra + "}\n";
}

engine::RunSummary run_yaml(const fs::path& d, const std::string& y,
                            engine::Metrics* metrics_out = nullptr) {
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  engine::Metrics local;
  engine::Metrics& metrics = metrics_out != nullptr ? *metrics_out : local;
  auto root = engine::ConfigNode::load_string(y, (d / "p.yaml").string());
  auto p = engine::build_pipeline(root, y, reg, metrics);
  if (p->info.audit) {
    std::string err;
    EXPECT_TRUE(p->info.audit->open(&err)) << err;
  }
  engine::Runner runner(*p, metrics);
  auto s = runner.run();
  if (p->info.audit) p->info.audit->close();
  return s;
}

engine::RunSummary run(const fs::path& d, bool provenance = true, int every = 100,
                       const std::string& input = "in.asy", const std::string& engine_extra = "") {
  return run_yaml(d, yaml(d, provenance, every, input, "", false, engine_extra));
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

void store(const fs::path& p, const std::vector<StoredRecord>& recs) {
  engine::FrameWriter w;
  ASSERT_TRUE(w.open(p.string()));
  for (const auto& r : recs) ASSERT_TRUE(w.write(r.bytes));
  ASSERT_TRUE(w.close());
}

connectors::VerifyReport verify(const fs::path& d, const std::vector<StoredRecord>& t,
                                const std::vector<StoredRecord>& a, bool open_tail = false,
                                bool kafka_offsets = false) {
  connectors::VerifyOptions o;
  o.public_key = public_key(d);
  o.allow_open_tail = open_tail;
  o.offsets_may_skip = kafka_offsets;
  return connectors::verify_stream(t, a, o);
}

std::vector<Attestation> of_kind(const std::vector<StoredRecord>& a, AttestationKind k,
                                 std::vector<size_t>* at = nullptr) {
  std::vector<Attestation> out;
  for (size_t i = 0; i < a.size(); ++i) {
    Attestation x;
    std::string err;
    EXPECT_TRUE(engine::decode_attestation(a[i].bytes, &x, &err)) << err;
    if (x.kind != k) continue;
    out.push_back(x);
    if (at != nullptr) at->push_back(i);
  }
  return out;
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

bool has_kind(const connectors::VerifyReport& r, const std::string& kind) {
  for (const auto& f : r.findings)
    if (f.kind == kind) return true;
  return false;
}

// --- the v2 definitions of docs/provenance.md, written again from the document -----------------

Hash32 sha(const std::string& bytes) {
  const auto d = engine::sha256(bytes);
  Hash32 out;
  std::copy(d.begin(), d.end(), out.begin());
  return out;
}

std::string str(std::span<const uint8_t> b) {
  return {b.begin(), b.end()};
}

// leaf = SHA-256(0x00 || R0), R0 = the record with its three chain fields zeroed.
Hash32 doc_leaf(std::vector<uint8_t> rec, const engine::ChainFields& f) {
  std::fill_n(rec.begin() + static_cast<long>(f.prev_hash), 32, 0);
  std::fill_n(rec.begin() + static_cast<long>(f.record_hash), 32, 0);
  std::fill_n(rec.begin() + static_cast<long>(f.chain_index), 8, 0);
  return sha(std::string(1, '\0') + str(rec));
}

// record_hash = SHA-256("assay-chain-v2" || u64 LE chain_index || prev || leaf).
Hash32 doc_record_hash(uint64_t index, const Hash32& prev, const Hash32& leaf) {
  std::string m = "assay-chain-v2";
  for (int i = 0; i < 8; ++i) m.push_back(static_cast<char>(index >> (8 * i)));
  return sha(m + str(prev) + str(leaf));
}

// RFC 9162 MTH, recursively.
Hash32 doc_mth(const std::vector<Hash32>& l, size_t lo, size_t n) {
  if (n == 1) return l[lo];
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return sha(std::string(1, '\1') + str(doc_mth(l, lo, k)) + str(doc_mth(l, lo + k, n - k)));
}

// A forgery made the way the document allows anyone to: a changed copy of `model`, linked after
// (index - 1, prev) with correct v2 hashes.
std::vector<uint8_t> forge(const std::vector<uint8_t>& model, uint64_t index, const Hash32& prev,
                           uint8_t flip) {
  std::vector<uint8_t> r = model;
  r[inside_signed_bytes(r)] ^= flip;
  engine::ChainFields f;
  EXPECT_TRUE(engine::find_chain_fields(r, &f));
  std::copy(prev.begin(), prev.end(), r.begin() + static_cast<long>(f.prev_hash));
  for (int i = 0; i < 8; ++i)
    r[f.chain_index + static_cast<size_t>(i)] = static_cast<uint8_t>(index >> (8 * i));
  const Hash32 h = doc_record_hash(index, prev, doc_leaf(r, f));
  std::copy(h.begin(), h.end(), r.begin() + static_cast<long>(f.record_hash));
  return r;
}

TEST(Provenance, ChainsEveryTrustedRecordAndSignsC2spCheckpoints) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 1030, 0);
  const auto s = run(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const auto t = load(tmp.path / "trusted.asy");
  const auto a = load(tmp.path / "att.asy");
  ASSERT_EQ(t.size(), s.trusted);
  ASSERT_GT(s.rejected, 0u);
  // Every record: format 2, its index, linked to the one before, its hash per the document.
  Hash32 prev{};
  std::vector<Hash32> leaves;
  for (size_t i = 0; i < t.size(); ++i) {
    engine::ChainFields f;
    ASSERT_TRUE(engine::find_chain_fields(t[i].bytes, &f));
    EXPECT_EQ(f.version, 2);
    EXPECT_EQ(wire::GetTrustedReading(t[i].bytes.data())->provenance()->chain_version(), 2);
    EXPECT_EQ(engine::u64_at(t[i].bytes, f.chain_index), i);
    EXPECT_EQ(engine::hash_at(t[i].bytes, f.prev_hash), prev);
    leaves.push_back(doc_leaf(t[i].bytes, f));
    EXPECT_EQ(engine::hash_at(t[i].bytes, f.record_hash), doc_record_hash(i, prev, leaves.back()))
        << i;
    prev = engine::hash_at(t[i].bytes, f.record_hash);
  }
  // One checkpoint every 100 records plus the final one; each a C2SP signed note whose key ID
  // and signature follow c2sp.org/signed-note, over the whole log so far.
  const auto cks = of_kind(a, AttestationKind::kCheckpoint);
  ASSERT_EQ(cks.size(), (t.size() + 99) / 100);
  const std::string origin = "assay/prov/0";
  const auto pk = public_key(tmp.path);
  std::string id_input = origin + "\n\x01" + str(pk);
  const Hash32 key_hash = sha(id_input);
  for (size_t k = 0; k < cks.size(); ++k) {
    const Attestation& c = cks[k];
    const uint64_t size = k + 1 < cks.size() ? (k + 1) * 100 : t.size();
    EXPECT_EQ(c.size, size);
    EXPECT_EQ(c.origin, origin);
    const Hash32 root = doc_mth(leaves, 0, size);
    EXPECT_EQ(c.root, root);
    const std::string body =
        origin + "\n" + std::to_string(size) + "\n" + engine::to_base64(root) + "\n";
    ASSERT_EQ(c.note.substr(0, body.size() + 1), body + "\n");
    const std::string line = c.note.substr(body.size() + 1);
    ASSERT_EQ(line.substr(0, 4 + origin.size()), "\xE2\x80\x94 " + origin);
    const auto sig =
        engine::from_base64(line.substr(5 + origin.size(), line.size() - 6 - origin.size()));
    ASSERT_TRUE(sig.has_value()) << line;
    ASSERT_EQ(sig->size(), 68u);
    EXPECT_TRUE(std::equal(key_hash.begin(), key_hash.begin() + 4, sig->begin()));
    EXPECT_TRUE(engine::verify_engine_signature(
        pk, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
        std::span<const uint8_t>(*sig).subspan(4)));
    engine::MerkleFrontier f;
    ASSERT_TRUE(engine::MerkleFrontier::from_nodes(c.size, c.frontier, &f));
    EXPECT_EQ(f.root(), root);
  }
  // One intent per batch with trusted records, each signed and naming its range and head.
  const auto intents = of_kind(a, AttestationKind::kIntent);
  uint64_t next = 0;
  for (const auto& in : intents) {
    EXPECT_EQ(in.first, next);
    next = in.first + in.size;
    EXPECT_TRUE(
        engine::verify_engine_signature(pk, engine::intent_signing_bytes(in), in.signature));
    engine::ChainFields f;
    ASSERT_TRUE(engine::find_chain_fields(t[next - 1].bytes, &f));
    EXPECT_EQ(in.head, engine::hash_at(t[next - 1].bytes, f.record_hash));
  }
  EXPECT_EQ(next, t.size());
  const auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.records, t.size());
  EXPECT_EQ(r.checkpoints, cks.size());
  EXPECT_EQ(r.intents, intents.size());
  // The wrong public key fails every checkpoint and every intent.
  connectors::VerifyOptions o;
  o.public_key = pk;
  o.public_key[0] ^= 1;
  const auto bad = connectors::verify_stream(t, a, o);
  size_t sig_findings = 0;
  for (const auto& fd : bad.findings)
    sig_findings += fd.kind == "checkpoint_signature" || fd.kind == "intent_signature";
  EXPECT_EQ(sig_findings, cks.size() + intents.size()) << dump(bad);
}

// The tamper suite, on a stream of one TrustedReading per reading and on a stream of grouped
// records (engine.trusted_records: grouped; each input record a batch of 3 readings of one
// sensor, each output record standing for all three).
class Tamper : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    write_input(tmp.path / "in.asy", 800, 0, false, per_record());
    const auto s = run(tmp.path, true, 100, "in.asy", engine_extra());
    ASSERT_TRUE(s.ok) << s.error;
    t = load(tmp.path / "trusted.asy");
    a = load(tmp.path / "att.asy");
    ASSERT_EQ(t.size(), 800u);
    ASSERT_EQ(s.trusted, 800u * per_record());
    for (const auto& r : t) {
      const auto* g = wire::GetTrustedReading(r.bytes.data())->group_reading_indexes();
      ASSERT_EQ(g == nullptr ? 1u : g->size(), static_cast<size_t>(per_record()));
    }
    ASSERT_TRUE(verify(tmp.path, t, a).ok());
    of_kind(a, AttestationKind::kCheckpoint, &ck_at);
    ASSERT_EQ(ck_at.size(), 8u);
  }
  int64_t ck(size_t k) const { return static_cast<int64_t>(ck_at[k]); }  // stored offset
  int per_record() const { return GetParam() ? 3 : 1; }
  std::string engine_extra() const { return GetParam() ? ", trusted_records: grouped" : ""; }
  TempDir tmp;
  std::vector<StoredRecord> t, a;
  std::vector<size_t> ck_at;  // offsets of the checkpoints in att.asy (sizes 100, 200, ...)
};

TEST_P(Tamper, FlippedByteIsNamed) {
  t[437].bytes[inside_signed_bytes(t[437].bytes)] ^= 0x01;
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "record_altered", 437)) << dump(r);
  EXPECT_EQ(offsets_named(r, "trusted"), std::set<int64_t>{437}) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", ck(4))) << dump(r);  // tree size 500
}

// fuzz_stream_verify, fuzz/regressions/stream_verify/crash-offset-shift-overflow: a record
// stored at an offset far from its chain_index made offset - chain_index overflow (UBSan) in
// both verifiers. The shift is now taken modulo 2^64; the record is named, nothing else breaks.
TEST_P(Tamper, ExtremeOffsetIsNamedWithoutOverflow) {
  const int64_t far = std::numeric_limits<int64_t>::min() + 3;
  t[437].offset = far;
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "offset_mismatch", far)) << dump(r);
  t[437].offset = 437;
  EXPECT_TRUE(verify(tmp.path, t, a).ok());
}

TEST_P(Tamper, DeletedRecordIsNamed) {
  t.erase(t.begin() + 250);
  renumber(t);
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "chain_break", 250)) << dump(r);
  EXPECT_TRUE(has(r, "missing", 250)) << dump(r);
  EXPECT_TRUE(has(r, "offset_mismatch", 250)) << dump(r);  // offsets shift from here on
  EXPECT_EQ(offsets_named(r, "trusted"), (std::set<int64_t>{250})) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", ck(2))) << dump(r);  // from tree size 300 on
}

// A Kafka topic written by exactly-once transactions: transaction markers and aborted records
// occupy offsets a read_committed reader never sees, so offsets skip forward. With Kafka
// offsets that is not a finding; in a record file (frame indices) it is; a record deleted
// from the middle (offsets fall behind the chain indices) is named either way.
TEST_P(Tamper, OffsetsSkippingForwardAreKafkaTransactionGaps) {
  for (size_t i = 300; i < t.size(); ++i) t[i].offset += 2;  // a commit marker and an abort
  for (size_t i = 500; i < t.size(); ++i) t[i].offset += 1;
  const auto kafka = verify(tmp.path, t, a, false, true);
  EXPECT_TRUE(kafka.ok()) << dump(kafka);
  const auto file = verify(tmp.path, t, a);
  EXPECT_TRUE(has(file, "offset_mismatch", 302)) << dump(file);
  EXPECT_TRUE(has(file, "offset_mismatch", 503)) << dump(file);
  t.erase(t.begin() + 250);
  for (size_t i = 250; i < 299; ++i) t[i].offset = static_cast<int64_t>(i);
  const auto deleted = verify(tmp.path, t, a, false, true);
  EXPECT_TRUE(has(deleted, "missing", 250)) << dump(deleted);
  EXPECT_TRUE(has(deleted, "offset_mismatch", 250)) << dump(deleted);
}

TEST_P(Tamper, SwappedRecordsAreNamed) {
  std::swap(t[600], t[601]);
  renumber(t);
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "chain_break", 600)) << dump(r);
  EXPECT_TRUE(has(r, "chain_break", 601)) << dump(r);
  EXPECT_TRUE(has(r, "offset_mismatch", 600)) << dump(r);
  EXPECT_TRUE(has(r, "offset_mismatch", 601)) << dump(r);
  EXPECT_TRUE(has(r, "merkle_mismatch", ck(6))) << dump(r);
  // Named: the two swapped records and the first one after them (its link back is broken).
  EXPECT_EQ(offsets_named(r, "trusted"), (std::set<int64_t>{600, 601, 602})) << dump(r);
}

TEST_P(Tamper, InsertedForgeryIsNamed) {
  // A forger who knows the format: a changed copy of record 300, correctly linked to 299 and
  // with a correct record_hash, placed before the original.
  engine::ChainFields f;
  ASSERT_TRUE(engine::find_chain_fields(t[299].bytes, &f));
  StoredRecord forged = t[300];
  forged.bytes = forge(t[300].bytes, 300, engine::hash_at(t[299].bytes, f.record_hash), 0x55);
  t.insert(t.begin() + 300, forged);
  renumber(t);
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "inserted", 300)) << dump(r);
  EXPECT_FALSE(has(r, "record_altered", 300)) << dump(r);
  // The authentic record is kept in the log: the checkpoints still match.
  EXPECT_FALSE(has_kind(r, "merkle_mismatch")) << dump(r);
}

TEST_P(Tamper, ReplacedCheckpointSignatureIsNamed) {
  Attestation c;
  std::string err;
  const size_t k = ck_at[2];
  ASSERT_TRUE(engine::decode_attestation(a[k].bytes, &c, &err)) << err;
  // Flip a bit inside the base64 signature of the note.
  const size_t pos = c.note.size() - 10;
  c.note[pos] = c.note[pos] == 'A' ? 'B' : 'A';
  a[k].bytes = engine::encode_attestation(c);
  auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(has(r, "checkpoint_signature", ck(2))) << dump(r);
  // Re-signed by another key over a forged root: refused too, and the root does not match.
  const size_t k5 = ck_at[5];
  ASSERT_TRUE(engine::decode_attestation(a[k5].bytes, &c, &err)) << err;
  c.root[0] ^= 1;
  const uint8_t seed[32] = {9};
  auto other = engine::EngineKey::from_seed(seed);
  const std::string body = engine::format_checkpoint_body({c.origin, c.size, c.root, {}});
  c.note = body + "\n" +
           engine::note_signature_line(
               c.origin, other->public_key(),
               [&](std::span<const uint8_t> m) { return other->sign(m); }, body);
  a[k5].bytes = engine::encode_attestation(c);
  r = verify(tmp.path, t, a);
  EXPECT_TRUE(has(r, "checkpoint_signature", ck(5))) << dump(r);
}

TEST_P(Tamper, ForkedCheckpointIsNamed) {
  // The engine's key signing a second, different checkpoint of the same size: a fork.
  Attestation c;
  std::string err;
  ASSERT_TRUE(engine::decode_attestation(a[ck_at[3]].bytes, &c, &err)) << err;
  c.root[7] ^= 0x20;
  const auto key = engine::EngineKey::load((tmp.path / "engine.pem").string());
  const std::string body = engine::format_checkpoint_body({c.origin, c.size, c.root, {}});
  c.note = body + "\n" +
           engine::note_signature_line(
               c.origin, key->public_key(),
               [&](std::span<const uint8_t> m) { return key->sign(m); }, body);
  a.push_back(StoredRecord{0, static_cast<int64_t>(a.size()), engine::encode_attestation(c)});
  const auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(has(r, "fork", static_cast<int64_t>(a.size() - 1))) << dump(r);
}

TEST_P(Tamper, DroppedCheckpointsAndTruncatedTailAreNamed) {
  // Without the last checkpoint, the tail it covered is unattested.
  auto a2 = a;
  a2.erase(a2.begin() + static_cast<long>(ck_at[7]));
  renumber(a2);
  auto r = verify(tmp.path, t, a2);
  EXPECT_TRUE(has_kind(r, "unattested")) << dump(r);
  EXPECT_EQ(r.unattested, 100u);
  EXPECT_TRUE(verify(tmp.path, t, a2, true).ok());  // a live stream: counted, not a finding
  EXPECT_EQ(verify(tmp.path, t, a2, true).unattested, 100u);
  // Records removed after a checkpoint: the checkpoint claims more than the stream holds.
  auto t2 = t;
  t2.resize(750);
  r = verify(tmp.path, t2, a);
  EXPECT_TRUE(has(r, "checkpoint_beyond_stream", ck(7))) << dump(r);
}

TEST_P(Tamper, ZeroCheckpointsNeverVerify) {
  // 13.7: a stream whose attestations were all removed (or a forged stream with none) is not
  // VERIFIED even for a live stream, and the summary counts its records.
  const std::vector<StoredRecord> none;
  for (bool open : {false, true}) {
    const auto r = verify(tmp.path, t, none, open);
    EXPECT_FALSE(r.ok()) << open;
    EXPECT_TRUE(has_kind(r, "unattested")) << dump(r);
    EXPECT_EQ(r.unattested, 800u);
  }
}

TEST_P(Tamper, AttestationsFromAnotherRunAreNamed) {
  TempDir other;
  write_input(other.path / "in.asy", 800, 5000, false, per_record());
  ASSERT_TRUE(run(other.path, true, 100, "in.asy", engine_extra()).ok);
  const auto r = verify(tmp.path, t, load(other.path / "att.asy"));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_kind(r, "merkle_mismatch")) << dump(r);
}

TEST_P(Tamper, ProofRoundTripAndTamperedProofs) {
  connectors::InclusionProof p;
  std::string err;
  ASSERT_TRUE(connectors::make_inclusion_proof(t, a, 0, 523, &p, &err)) << err;
  EXPECT_EQ(p.leaf_index, 523u);
  EXPECT_EQ(p.tree_size, 800u);  // the largest checkpoint covering it
  connectors::InclusionProof q;
  ASSERT_TRUE(connectors::InclusionProof::parse(p.json(), &q, &err)) << err;
  const auto key = public_key(tmp.path);
  EXPECT_TRUE(connectors::verify_inclusion_proof(q, key).empty());
  auto bad = q;
  bad.audit_path[2][5] ^= 1;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  bad = q;
  bad.record[inside_signed_bytes(bad.record)] ^= 1;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  bad = q;
  bad.leaf_index = 524;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  auto other = key;
  other[3] ^= 1;
  EXPECT_FALSE(connectors::verify_inclusion_proof(q, other).empty());
  // 13.7: a proof whose record position was edited names another record: refused.
  bad = q;
  bad.offset = 524;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  bad = q;
  bad.partition = 3;
  EXPECT_FALSE(connectors::verify_inclusion_proof(bad, key).empty());
  // The last record too.
  ASSERT_TRUE(connectors::make_inclusion_proof(t, a, 0, 799, &p, &err)) << err;
  EXPECT_TRUE(connectors::verify_inclusion_proof(p, key).empty());
}

// A witness's cosigned copy of a checkpoint, made as c2sp.org/tlog-cosignature says.
StoredRecord cosigned_copy(const StoredRecord& ck, const engine::EngineKey& witness,
                           const std::string& name, uint64_t time) {
  Attestation a;
  std::string err;
  EXPECT_TRUE(engine::decode_attestation(ck.bytes, &a, &err)) << err;
  const std::string text = engine::format_checkpoint_body({a.origin, a.size, a.root, {}});
  const std::string msg = "cosignature/v1\ntime " + std::to_string(time) + "\n" + text;
  const auto sig = witness.sign({reinterpret_cast<const uint8_t*>(msg.data()), msg.size()});
  const uint32_t id = engine::note_key_id(name, engine::kNoteCosignature, witness.public_key());
  std::vector<uint8_t> raw = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                              static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  for (int i = 7; i >= 0; --i) raw.push_back(static_cast<uint8_t>(time >> (8 * i)));
  raw.insert(raw.end(), sig.begin(), sig.end());
  a.kind = AttestationKind::kCosigned;
  a.note += "\xE2\x80\x94 " + name + " " + engine::to_base64(raw) + "\n";
  a.frontier.clear();
  return StoredRecord{0, 0, engine::encode_attestation(a)};
}

TEST_P(Tamper, WitnessCosignaturesAreCheckedAgainstPinnedKeys) {
  const uint8_t s1[32] = {21}, s2[32] = {22};
  const auto w1 = engine::EngineKey::from_seed(s1), w2 = engine::EngineKey::from_seed(s2);
  engine::NoteKey k1{"w1.example", 0, engine::kNoteCosignature, w1->public_key()};
  k1.id = engine::note_key_id(k1.name, k1.type, k1.public_key);
  engine::NoteKey k2{"w2.example", 0, engine::kNoteCosignature, w2->public_key()};
  k2.id = engine::note_key_id(k2.name, k2.type, k2.public_key);
  auto with = [&](std::vector<StoredRecord> extra, std::vector<engine::NoteKey> keys, size_t n) {
    auto all = a;
    for (auto& e : extra) {
      e.offset = static_cast<int64_t>(all.size());
      all.push_back(std::move(e));
    }
    connectors::VerifyOptions o;
    o.public_key = public_key(tmp.path);
    o.witnesses = std::move(keys);
    o.min_witnesses = n;
    return connectors::verify_stream(t, all, o);
  };
  const StoredRecord& last = a[ck_at[7]];  // tree size 800: the whole stream
  auto r = with({cosigned_copy(last, *w1, "w1.example", 1700000000)}, {k1}, 1);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.cosignatures, 1u);
  // Two witnesses required, one cosigned: the records are not witnessed.
  r = with({cosigned_copy(last, *w1, "w1.example", 1700000000)}, {k1, k2}, 2);
  EXPECT_TRUE(has_kind(r, "unwitnessed")) << dump(r);
  EXPECT_EQ(r.unwitnessed, 800u);
  r = with({cosigned_copy(last, *w1, "w1.example", 1), cosigned_copy(last, *w2, "w2.example", 2)},
           {k1, k2}, 2);
  EXPECT_TRUE(r.ok()) << dump(r);
  // A bad cosignature, an unknown witness, a cosignature of an earlier checkpoint only.
  StoredRecord bad = cosigned_copy(last, *w1, "w1.example", 1700000000);
  Attestation x;
  std::string err;
  ASSERT_TRUE(engine::decode_attestation(bad.bytes, &x, &err));
  x.note[x.note.size() - 6] = x.note[x.note.size() - 6] == 'A' ? 'B' : 'A';
  bad.bytes = engine::encode_attestation(x);
  EXPECT_TRUE(has_kind(with({bad}, {k1}, 1), "unwitnessed"));
  EXPECT_TRUE(has_kind(with({cosigned_copy(last, *w2, "w1.example", 5)}, {k1}, 1), "unwitnessed"));
  r = with({cosigned_copy(a[ck_at[5]], *w1, "w1.example", 5)}, {k1}, 1);
  EXPECT_EQ(r.unwitnessed, 200u) << dump(r);
  // A witness cosigned a different history of the same size: a fork.
  Attestation forked;
  ASSERT_TRUE(engine::decode_attestation(last.bytes, &forked, &err));
  forked.root[0] ^= 1;
  const auto key = engine::EngineKey::load((tmp.path / "engine.pem").string());
  const std::string body =
      engine::format_checkpoint_body({forked.origin, forked.size, forked.root, {}});
  forked.note = body + "\n" +
                engine::note_signature_line(
                    forked.origin, key->public_key(),
                    [&](std::span<const uint8_t> m) { return key->sign(m); }, body);
  const StoredRecord forged{0, 0, engine::encode_attestation(forked)};
  r = with({cosigned_copy(forged, *w1, "w1.example", 9)}, {k1}, 1);
  EXPECT_TRUE(has_kind(r, "fork")) << dump(r);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Tamper, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Grouped" : "PerReading";
                         });

TEST(Provenance, V1StreamsStillVerify) {
  const fs::path d = fs::path(ASSAY_SOURCE_DIR) / "tests/data/provenance-v1";
  auto t = load(d / "trusted.asy");
  const auto a = load(d / "att.asy");
  ASSERT_EQ(t.size(), 299u);
  std::array<uint8_t, 32> key{};
  std::string err;
  ASSERT_TRUE(engine::parse_engine_public_key((d / "engine.pub").string(), &key, &err)) << err;
  connectors::VerifyOptions o;
  o.public_key = key;
  auto r = connectors::verify_stream(t, a, o);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.v1_records, 299u);
  EXPECT_EQ(r.checkpoints, 6u);
  t[120].bytes[inside_signed_bytes(t[120].bytes)] ^= 4;
  r = connectors::verify_stream(t, a, o);
  EXPECT_TRUE(has(r, "record_altered", 120)) << dump(r);
  EXPECT_TRUE(has_kind(r, "merkle_mismatch")) << dump(r);
  // A proof over the v1 stream.
  t = load(d / "trusted.asy");
  connectors::InclusionProof p;
  ASSERT_TRUE(connectors::make_inclusion_proof(t, a, 0, 77, &p, &err)) << err;
  EXPECT_TRUE(connectors::verify_inclusion_proof(p, key).empty());
}

TEST(Provenance, V1AndV2MixedInOneChainAreNamed) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 100, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  auto t = load(fs::path(ASSAY_SOURCE_DIR) / "tests/data/provenance-v1/trusted.asy");
  const auto v2 = load(tmp.path / "trusted.asy");
  t.insert(t.end(), v2.begin(), v2.begin() + 5);
  renumber(t);
  const auto r = verify(tmp.path, t, load(tmp.path / "att.asy"));
  for (int64_t i = 299; i < 304; ++i) EXPECT_TRUE(has(r, "version_mixed", i)) << dump(r);
  // The report names the software of each part: the v1 engine that wrote the data, and this one.
  const std::map<std::string, uint64_t> engines = {
      {"0.1.0 (build a0ea7515d49d)", 299},
      {std::string(engine::kVersion) + " (build " + engine::kBuildId + ")", 5}};
  EXPECT_EQ(r.engines, engines);
}

// What verify-stream reports of the software that wrote a stream comes from the records, so it
// is printable and bounded whatever a (hostile) stream holds.
TEST(Provenance, EngineSoftwareOfAStreamIsReportedPrintableAndBounded) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 100, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  auto t = load(tmp.path / "trusted.asy");
  const auto a = load(tmp.path / "att.asy");
  ASSERT_EQ(t.size(), 100u);
  const std::string mine = std::string(engine::kVersion) + " (build " + engine::kBuildId + ")";
  EXPECT_EQ(verify(tmp.path, t, a).engines, (std::map<std::string, uint64_t>{{mine, 100}}));
  // Rewrite engine_build in place (same length) in the last 40 records: an escape character in
  // one, 39 other distinct builds. Each altered record is also a finding; here only the count
  // matters. (The first identities seen are the ones named: this engine's, first here.)
  const auto build_at = [](std::vector<uint8_t>& rec) {
    const auto* b = wire::GetTrustedReading(rec.data())->provenance()->engine_build();
    return rec.data() + (reinterpret_cast<const uint8_t*>(b->data()) - rec.data());
  };
  const size_t len = std::strlen(engine::kBuildId);
  ASSERT_GE(len, 2u);
  build_at(t[60].bytes)[0] = 0x1b;
  for (size_t i = 1; i < 40; ++i) {
    uint8_t* b = build_at(t[60 + i].bytes);
    b[0] = static_cast<uint8_t>('a' + i % 26);
    b[1] = static_cast<uint8_t>('A' + i / 26);
  }
  const auto r = verify(tmp.path, t, a);
  EXPECT_FALSE(r.ok());
  ASSERT_LE(r.engines.size(), connectors::VerifyReport::kMaxEngineIdentities + 1);
  uint64_t total = 0;
  for (const auto& [id, n] : r.engines) {
    total += n;
    for (char c : id) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << id;
  }
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(r.engines.at(mine), 60u);
  const std::string escaped =
      std::string(engine::kVersion) + " (build ?" + std::string(engine::kBuildId + 1) + ")";
  EXPECT_EQ(r.engines.at(escaped), 1u);
  // 1 + 1 + 39 identities: 32 named, the records of the others under "(other)".
  EXPECT_EQ(r.engines.size(), connectors::VerifyReport::kMaxEngineIdentities + 1);
  EXPECT_EQ(r.engines.at("(other)"), 41u - connectors::VerifyReport::kMaxEngineIdentities);
}

TEST(Provenance, RestartContinuesTheChain) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 530, 0);
  auto s = run(tmp.path);
  ASSERT_TRUE(s.ok) << s.error;
  const size_t first = load(tmp.path / "trusted.asy").size();
  write_input(tmp.path / "in2.asy", 470, 1000);
  s = run(tmp.path, true, 100, "in2.asy");
  ASSERT_TRUE(s.ok) << s.error;
  const auto t = load(tmp.path / "trusted.asy");
  const auto a = load(tmp.path / "att.asy");
  EXPECT_EQ(t.size(), first + s.trusted);
  const auto r = verify(tmp.path, t, a);
  EXPECT_TRUE(r.ok()) << dump(r);
  engine::ChainFields f;
  ASSERT_TRUE(engine::find_chain_fields(t.back().bytes, &f));
  EXPECT_EQ(engine::u64_at(t.back().bytes, f.chain_index), t.size() - 1);
  // The log grew over the restart: the last checkpoint covers everything.
  EXPECT_EQ(of_kind(a, AttestationKind::kCheckpoint).back().size, t.size());
}

TEST(Provenance, RestartRefusesToAppendTheSameInputAgain) {
  // 13.12: a file-input pipeline restarted with `append: true` used to chain a second copy of
  // every reading, silently. Now that is refused, naming the offset to resume at.
  TempDir tmp;
  write_input(tmp.path / "in.asy", 300, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  const size_t n = load(tmp.path / "trusted.asy").size();
  auto s = run(tmp.path);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("refusing to append a second copy"), std::string::npos) << s.error;
  EXPECT_NE(s.error.find("start_offset: 300"), std::string::npos) << s.error;
  EXPECT_EQ(load(tmp.path / "trusted.asy").size(), n);
  // The file grew; resuming after what the chain holds processes only the new frames.
  write_input(tmp.path / "in.asy", 350, 0, false);
  s = run_yaml(tmp.path, yaml(tmp.path, true, 100, "in.asy", ", start_offset: 300"));
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.trusted, 50u);
  const auto t = load(tmp.path / "trusted.asy");
  EXPECT_EQ(t.size(), 350u);
  EXPECT_TRUE(verify(tmp.path, t, load(tmp.path / "att.asy")).ok());
}

TEST(Provenance, ForgedRecordsAppendedAfterACleanStopAreNotAttested) {
  // 13.6: five forged records appended to a trusted file after a clean stop, continuing the
  // hash chain (the public algorithm, no key). The next start must not cover them with its
  // checkpoint: they are set aside, loudly (error, metric, audit event).
  TempDir tmp;
  write_input(tmp.path / "in.asy", 200, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  auto t = load(tmp.path / "trusted.asy");
  ASSERT_EQ(t.size(), 200u);
  std::vector<StoredRecord> forged;
  for (int i = 0; i < 5; ++i) {
    const auto& last = i == 0 ? t.back() : forged.back();
    engine::ChainFields f;
    ASSERT_TRUE(engine::find_chain_fields(last.bytes, &f));
    forged.push_back(StoredRecord{0, 0,
                                  forge(t[static_cast<size_t>(i)].bytes, 200 + i,
                                        engine::hash_at(last.bytes, f.record_hash), 0x11)});
  }
  auto all = t;
  all.insert(all.end(), forged.begin(), forged.end());
  store(tmp.path / "trusted.asy", all);
  renumber(all);
  const auto before = verify(tmp.path, all, load(tmp.path / "att.asy"));
  EXPECT_EQ(before.unattested, 5u);

  write_input(tmp.path / "in2.asy", 100, 1000, false);
  engine::Metrics metrics;
  const auto s = run_yaml(tmp.path, yaml(tmp.path, true, 100, "in2.asy", "", true), &metrics);
  ASSERT_TRUE(s.ok) << s.error;
  const auto after = load(tmp.path / "trusted.asy");
  ASSERT_EQ(after.size(), 300u);
  // Not one forged record remains in the stream, and the stream verifies.
  for (const auto& r : after)
    for (const auto& f : forged) EXPECT_NE(r.bytes, f.bytes);
  const auto rep = verify(tmp.path, after, load(tmp.path / "att.asy"));
  EXPECT_TRUE(rep.ok()) << dump(rep);
  // They were moved next to the output, not deleted.
  size_t moved = 0;
  for (const auto& e : fs::directory_iterator(tmp.path))
    if (e.path().filename().string().rfind("trusted.asy.quarantine-", 0) == 0) {
      const auto q = load(e.path());
      ASSERT_EQ(q.size(), 5u);
      for (size_t i = 0; i < 5; ++i) EXPECT_EQ(q[i].bytes, forged[i].bytes);
      ++moved;
    }
  EXPECT_EQ(moved, 1u);
  const std::string m = metrics.serialize();
  const auto at = m.find("assay_provenance_unattested_records_total{pipeline=\"prov\"} ");
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_EQ(std::stod(m.substr(m.find('}', at) + 2)), 5.0) << m;
  bool audited = false;
  for (const auto& e : engine::read_frame_file((tmp.path / "audit.log").string()))
    audited = audited || str(e).find("provenance.tail_quarantined") != std::string::npos;
  EXPECT_TRUE(audited);
}

TEST(Provenance, RefusesToContinueAfterAnAlteredAttestedRecord) {
  // The last record, covered by the final checkpoint, altered after a clean stop: the engine
  // cannot set aside what it already attested, so it refuses to go on.
  TempDir tmp;
  write_input(tmp.path / "in.asy", 150, 0, false);
  ASSERT_TRUE(run(tmp.path).ok);
  auto t = load(tmp.path / "trusted.asy");
  t.back().bytes[inside_signed_bytes(t.back().bytes)] ^= 1;
  store(tmp.path / "trusted.asy", t);
  write_input(tmp.path / "in2.asy", 10, 1000, false);
  const auto s = run(tmp.path, true, 100, "in2.asy");
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("no signed head of this engine matches"), std::string::npos) << s.error;
  EXPECT_EQ(load(tmp.path / "trusted.asy").size(), 150u);
}

TEST(Provenance, RefusesToStartANewChainAfterUnchainedRecords) {
  TempDir tmp;
  write_input(tmp.path / "in.asy", 50, 0, false);
  ASSERT_TRUE(run(tmp.path, false).ok);  // trusted.asy now holds records without a chain
  write_input(tmp.path / "in2.asy", 50, 100, false);
  const auto s = run(tmp.path, true, 100, "in2.asy");
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("no hash chain"), std::string::npos) << s.error;
  EXPECT_EQ(load(tmp.path / "trusted.asy").size(), 50u);  // nothing was appended
}

TEST(Provenance, RefusesToContinueAV1Chain) {
  TempDir tmp;
  const fs::path v1 = fs::path(ASSAY_SOURCE_DIR) / "tests/data/provenance-v1";
  fs::copy_file(v1 / "trusted.asy", tmp.path / "trusted.asy");
  fs::copy_file(v1 / "att.asy", tmp.path / "att.asy");
  write_input(tmp.path / "in.asy", 20, 0, false);
  const auto s = run(tmp.path);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("format v1"), std::string::npos) << s.error;
  EXPECT_EQ(load(tmp.path / "trusted.asy").size(), 299u);
}

TEST(Provenance, ConfigNeedsAttestationsAndKey) {
  TempDir tmp;
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  engine::Metrics metrics;
  auto refused = [&](const std::string& text, const std::string& needle) {
    try {
      auto root = engine::ConfigNode::load_string(text, "p.yaml");
      engine::build_pipeline(root, text, reg, metrics);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const engine::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  std::string y = yaml(tmp.path);
  const auto att = y.find("  attestations:");
  refused(y.substr(0, att) + y.substr(y.find("operators:")), "attestations");
  std::string bad_key = y;
  bad_key.replace(bad_key.find("engine.pem"), 10, "nope.pem");
  refused(bad_key, "cannot open file");
  refused(y.substr(0, y.find("operators:")) + "engine: {batch_size: 8}\n",
          "needs the provenance operator");
  std::string kafka = y;
  const auto tr = kafka.find("  trusted:");
  kafka.replace(tr, kafka.find('\n', tr) - tr,
                "  trusted: {type: kafka, brokers: 127.0.0.1:1, topic: t}");
  refused(kafka, "partition: source");
  auto with_op = [&](const std::string& keys) {
    std::string z = y;
    const auto at = z.find("checkpoint:");
    z.insert(at, keys + ", ");
    return z;
  };
  refused(with_op("origin: 'a b'"), "origin");
  refused(with_op("witnesses: [{url: ftp://x, key: a+00000000+AQ==}]"), "http");
  refused(with_op("witnesses: [{url: 'http://127.0.0.1:1', key: nonsense}]"), "verifier key");
  // 13 (extras): `append: true` on a jsonl route is refused, not ignored.
  std::string jsonl = y;
  jsonl.replace(jsonl.find("  rejected: {type: file"), 23,
                "  rejected: {type: jsonl, append: true");
  refused(jsonl, "append: true is only for type: file");
}

// --- Merkle trees -------------------------------------------------------------------------

std::vector<Hash32> some_leaves(size_t n) {
  std::vector<Hash32> l;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b[2] = {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8)};
    l.push_back(engine::merkle_leaf(b));
  }
  return l;
}

TEST(Merkle, Rfc9162RootsAndInclusionProofs) {
  const auto leaves = some_leaves(21);
  EXPECT_EQ(engine::merkle_root(std::span(leaves).subspan(0, 3)),
            engine::merkle_node(engine::merkle_node(leaves[0], leaves[1]), leaves[2]));
  EXPECT_EQ(engine::merkle_root(std::span(leaves).subspan(0, 1)), leaves[0]);
  for (size_t n = 1; n <= leaves.size(); ++n) {
    const auto sub = std::span(leaves).subspan(0, n);
    const Hash32 root = engine::merkle_root(sub);
    EXPECT_EQ(root, doc_mth(leaves, 0, n));
    for (size_t i = 0; i < n; ++i) {
      const auto path = engine::merkle_audit_path(sub, i);
      EXPECT_TRUE(engine::merkle_verify_inclusion(leaves[i], i, n, path, root)) << n << " " << i;
      if (n > 1) {
        EXPECT_FALSE(engine::merkle_verify_inclusion(leaves[i], (i + 1) % n, n, path, root));
      }
    }
  }
}

TEST(Merkle, FrontierAppendsInAnyPiecesGiveTheRoot) {
  const auto leaves = some_leaves(300);
  std::mt19937 rng(3);
  for (size_t n = 0; n <= leaves.size(); n += 1 + n / 8) {
    engine::MerkleFrontier f;
    size_t at = 0;
    while (at < n) {
      const size_t k = std::min(n - at, size_t{1} + rng() % 40);
      f.append(std::span(leaves).subspan(at, k));
      at += k;
    }
    EXPECT_EQ(f.size(), n);
    EXPECT_EQ(f.root(), engine::merkle_root(std::span(leaves).subspan(0, n))) << n;
    engine::MerkleFrontier g;
    ASSERT_TRUE(engine::MerkleFrontier::from_nodes(n, f.nodes(), &g));
    EXPECT_EQ(g.root(), f.root());
  }
}

TEST(Merkle, ConsistencyProofsFromTheFrontierAndLeaves) {
  const auto leaves = some_leaves(70);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const Hash32 new_root = engine::merkle_root(std::span(leaves).subspan(0, n));
    for (uint64_t m = 1; m <= n; ++m) {
      const Hash32 old_root = engine::merkle_root(std::span(leaves).subspan(0, m));
      // As the witness client builds it: the frontier at a base <= m plus the leaves after.
      const uint64_t base = m / 2;
      engine::MerkleFrontier f;
      f.append(std::span(leaves).subspan(0, base));
      auto subtree = [&](uint64_t a, uint64_t b, Hash32* out) {
        if (a >= base) {
          *out = engine::merkle_root(std::span(leaves).subspan(a, b - a));
          return true;
        }
        if (b <= base) return f.node(a, b, out);
        return false;  // the proofs here never straddle the base at an unaligned place
      };
      std::vector<Hash32> proof;
      auto full = [&](uint64_t a, uint64_t b, Hash32* out) {
        *out = engine::merkle_root(std::span(leaves).subspan(a, b - a));
        return true;
      };
      ASSERT_TRUE(engine::merkle_consistency_proof(m, n, full, &proof)) << m << " " << n;
      EXPECT_TRUE(engine::merkle_verify_consistency(m, n, old_root, new_root, proof))
          << m << " " << n;
      std::vector<Hash32> proof2;
      if (engine::merkle_consistency_proof(m, n, subtree, &proof2)) {
        EXPECT_EQ(proof2, proof);
      }
      if (m < n) {
        Hash32 wrong = old_root;
        wrong[0] ^= 1;
        EXPECT_FALSE(engine::merkle_verify_consistency(m, n, wrong, new_root, proof));
        if (!proof.empty()) {
          auto bad = proof;
          bad.back()[3] ^= 1;
          EXPECT_FALSE(engine::merkle_verify_consistency(m, n, old_root, new_root, bad));
        }
      }
    }
  }
}

// The encoder's hook and the serial link step give the document's bytes.
TEST(Provenance, PreparedLeavesAndLinkingMatchTheDocument) {
  for (size_t n : {0, 1, 2, 17, 200}) {
    engine::Batch b;
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
      pb.add_chain_version(2);
      const auto prov = pb.Finish();
      wire::TrustedReadingBuilder tb(fbb);
      tb.add_signed_bytes(body);
      tb.add_sensor_id(sensor);
      tb.add_provenance(prov);
      wire::FinishTrustedReadingBuffer(fbb, tb.Finish());
      const size_t off = ((b.out_arena.size() + 7) & ~size_t{7}) + engine::kChainHeadroom;
      b.out_arena.resize(off + fbb.GetSize(), 0xee);
      std::memcpy(b.out_arena.data() + off, fbb.GetBufferPointer(), fbb.GetSize());
      b.outputs.push_back(engine::OutputRecord{engine::Route::kTrusted, 0,
                                               static_cast<uint32_t>(off), fbb.GetSize(), 0,
                                               engine::RejectCode::kNone});
    }
    engine::prepare_chain_leaves(b);
    Hash32 prev{};
    prev[0] = 0x42;  // continuing a chain
    for (size_t i = 0; i < n; ++i) {
      const auto& o = b.outputs[i];
      uint8_t* rec = b.out_arena.data() + o.offset;
      const auto pr = engine::read_prepared(rec);
      ASSERT_TRUE(pr.ok);
      const std::vector<uint8_t> before(rec, rec + o.size);
      EXPECT_EQ(pr.leaf, doc_leaf(before, pr.f)) << i;
      const Hash32 h = engine::link_record_v2(rec, pr, 7 + i, prev);
      const std::vector<uint8_t> after(rec, rec + o.size);
      engine::ChainFields f;
      ASSERT_TRUE(engine::find_chain_fields(after, &f));
      EXPECT_EQ(engine::u64_at(after, f.chain_index), 7 + i);
      EXPECT_EQ(engine::hash_at(after, f.prev_hash), prev);
      EXPECT_EQ(h, doc_record_hash(7 + i, prev, doc_leaf(after, f)));
      EXPECT_EQ(engine::hash_at(after, f.record_hash), h);
      EXPECT_EQ(engine::record_leaf_v2(after, f), pr.leaf);
      prev = h;
    }
  }
}

}  // namespace
}  // namespace assay::operators
