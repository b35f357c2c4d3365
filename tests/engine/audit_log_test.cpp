// The audit log: events chained and signed, verification, tamper detection naming the place,
// a chain that continues across restarts, a corrupt tail refused, key changes, threads, and
// the `audit:` section of a pipeline file.
#include "engine/audit_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "connectors/audit_kafka.hpp"
#include "connectors/builtin.hpp"
#include "engine/audit_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/pipeline.hpp"
#include "schemas/audit_event_generated.h"

namespace assay::engine {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const EngineKey> key_of(uint8_t v, std::string id = {}) {
  std::array<uint8_t, 32> s{};
  s.fill(v);
  return EngineKey::from_seed(s, std::move(id));
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("assay-audit-" + std::to_string(getpid()) + "-" +
                                               std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

AuditOptions options(const fs::path& file) {
  AuditOptions o;
  o.file = file.string();
  o.pipeline_name = "plant-1";
  o.instance_id = "node-a";
  o.fsync = false;
  return o;
}

std::vector<std::vector<uint8_t>> read_all(const fs::path& f) {
  return engine::read_frame_file(f.string());
}

void write_all(const fs::path& f, const std::vector<std::vector<uint8_t>>& records) {
  std::vector<uint8_t> out;
  for (const auto& r : records) engine::append_frame(out, r);
  std::ofstream(f, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
}

AuditVerifyReport verify(const std::vector<std::vector<uint8_t>>& records,
                         std::vector<std::shared_ptr<const EngineKey>> keys) {
  std::vector<std::array<uint8_t, 32>> pub;
  for (const auto& k : keys) pub.push_back(k->public_key());
  return verify_audit_log(records, pub);
}

bool has_finding(const AuditVerifyReport& r, size_t position, const std::string& code) {
  for (const auto& f : r.findings)
    if (f.position == position && f.code == code) return true;
  return false;
}

std::string dump(const AuditVerifyReport& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.code + " " + f.message + "\n";
  return s;
}

// Builds an AuditEvent buffer field by field (as a forger would).
struct EventFields {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  std::string type, log_id, instance_id, pipeline_name, key_id;
  AuditDetails details;
  std::vector<uint8_t> prev_hash, record_hash, signature;
};

EventFields fields_of(const std::vector<uint8_t>& buf) {
  const auto* e = wire::GetAuditEvent(buf.data());
  EventFields f;
  f.seq = e->seq();
  f.time_ns = e->time_ns();
  f.type = e->type()->str();
  f.log_id = e->log_id()->str();
  f.instance_id = e->instance_id()->str();
  f.pipeline_name = e->pipeline_name()->str();
  f.key_id = e->engine_key_id()->str();
  for (const auto* d : *e->details()) f.details.emplace_back(d->key()->str(), d->value()->str());
  f.prev_hash.assign(e->prev_hash()->begin(), e->prev_hash()->end());
  f.record_hash.assign(e->record_hash()->begin(), e->record_hash()->end());
  f.signature.assign(e->signature()->begin(), e->signature()->end());
  return f;
}

std::vector<uint8_t> build_event(const EventFields& f) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::AuditDetail>> ds;
  for (const auto& [k, v] : f.details)
    ds.push_back(wire::CreateAuditDetail(fbb, fbb.CreateString(k), fbb.CreateString(v)));
  const auto e = wire::CreateAuditEvent(
      fbb, f.seq, f.time_ns, fbb.CreateString(f.type), fbb.CreateString(f.log_id),
      fbb.CreateString(f.instance_id), fbb.CreateString(f.pipeline_name), fbb.CreateVector(ds),
      fbb.CreateString(f.key_id), fbb.CreateVector(f.prev_hash), fbb.CreateVector(f.record_hash),
      fbb.CreateVector(f.signature));
  wire::FinishAuditEventBuffer(fbb, e);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Writes a log of `n` events (engine.start, config.load, n-3 x registry.identity_changed,
// engine.stop) with `key`.
void make_log(const fs::path& file, const std::shared_ptr<const EngineKey>& key, int n) {
  AuditLog log(options(file), key);
  std::string err;
  ASSERT_TRUE(log.open(&err)) << err;
  ASSERT_TRUE(log.record("engine.start", {{"version", "1.0"}, {"binary_sha256", "ab"}}));
  ASSERT_TRUE(log.record("config.load", {{"config_sha256", std::string(64, 'c')}}));
  for (int i = 0; i < n - 3; ++i)
    ASSERT_TRUE(log.record("registry.identity_changed", {{"sensors", std::to_string(i)}}));
  ASSERT_TRUE(log.record("engine.stop", {{"ok", "true"}}));
  log.close();
}

TEST(AuditLog, EventsAreChainedSignedAndVerify) {
  TempDir d;
  const auto key = key_of(1);
  const fs::path file = d.path / "audit.log";
  {
    AuditLog log(options(file), key);
    // Recorded before open(): queued, then written in order by open().
    ASSERT_TRUE(log.record("engine.start", {{"version", "1.0"}}));
    EXPECT_FALSE(fs::exists(file));
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    ASSERT_TRUE(log.record("config.load", {{"config_sha256", "00"}}));
    ASSERT_TRUE(log.record_config_reload(true, std::vector<uint8_t>(32, 1)));
    ASSERT_TRUE(log.record_config_reload(false, std::vector<uint8_t>(32, 2), "bad key at 3:4"));
    EXPECT_EQ(log.next_seq(), 4u);
    EXPECT_EQ(log.events_written(), 4u);
    log.close();
    EXPECT_FALSE(log.record("late", {}));  // after close: refused, not silently dropped
  }
  const auto records = read_all(file);
  ASSERT_EQ(records.size(), 4u);
  std::array<uint8_t, 32> prev{};
  std::string log_id;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto* e = wire::GetAuditEvent(records[i].data());
    EXPECT_EQ(e->seq(), i);
    EXPECT_EQ(e->engine_key_id()->str(), key->key_id());
    EXPECT_EQ(e->pipeline_name()->str(), "plant-1");
    EXPECT_EQ(e->instance_id()->str(), "node-a");
    if (i == 0) log_id = e->log_id()->str();
    EXPECT_EQ(e->log_id()->str(), log_id);
    EXPECT_EQ(log_id.size(), 32u);
    ASSERT_EQ(e->prev_hash()->size(), 32u);
    EXPECT_TRUE(std::equal(prev.begin(), prev.end(), e->prev_hash()->begin()));
    const auto h = audit_record_hash(prev, audit_canonical_bytes(*e));
    EXPECT_TRUE(std::equal(h.begin(), h.end(), e->record_hash()->begin()));
    EXPECT_TRUE(verify_engine_signature(key->public_key(), h, {e->signature()->data(), 64}));
    prev = h;
  }
  const auto rep = verify(records, {key});
  EXPECT_TRUE(rep.ok) << dump(rep);
  EXPECT_EQ(rep.types, (std::vector<std::string>{"engine.start", "config.load", "config.reload",
                                                 "config.reload_failed"}));
  ASSERT_EQ(rep.chains.size(), 1u);
  EXPECT_EQ(rep.chains[0].events, 4u);
  EXPECT_EQ(rep.chains[0].last_seq, 3u);
  const auto* failed = wire::GetAuditEvent(records[3].data());
  ASSERT_EQ(failed->details()->size(), 2u);
  EXPECT_EQ(failed->details()->Get(0)->key()->str(), "config_sha256");
  EXPECT_EQ(failed->details()->Get(0)->value()->str(), to_hex(std::vector<uint8_t>(32, 2)));
  EXPECT_EQ(failed->details()->Get(1)->value()->str(), "bad key at 3:4");
  // Another key does not verify it.
  const auto other = verify(records, {key_of(2)});
  EXPECT_FALSE(other.ok);
  for (size_t i = 0; i < records.size(); ++i) EXPECT_TRUE(has_finding(other, i, "bad_signature"));
}

TEST(AuditLog, FlippedByteIsDetectedAtItsPosition) {
  TempDir d;
  const auto key = key_of(1);
  make_log(d.path / "a.log", key, 6);
  auto records = read_all(d.path / "a.log");
  ASSERT_EQ(records.size(), 6u);
  // Flip one byte of the detail value "2" of event 4 ("sensors" = "1" -> "0"+1).
  auto& r = records[3];
  const std::string needle = "sensors";
  auto it = std::search(r.begin(), r.end(), needle.begin(), needle.end());
  ASSERT_NE(it, r.end());
  *it ^= 0x01;
  auto rep = verify(records, {key});
  EXPECT_FALSE(rep.ok);
  EXPECT_TRUE(has_finding(rep, 3, "hash_mismatch")) << dump(rep);
  for (const auto& f : rep.findings) EXPECT_EQ(f.position, 3u) << dump(rep);
  EXPECT_NE(rep.findings[0].message.find("position 3, seq 3"), std::string::npos);
  // An altered seq (hash and signature left as they were) is also located.
  records = read_all(d.path / "a.log");
  EventFields f = fields_of(records[2]);
  f.seq += 64;
  records[2] = build_event(f);
  rep = verify(records, {key});
  EXPECT_FALSE(rep.ok);
  EXPECT_TRUE(has_finding(rep, 2, "hash_mismatch")) << dump(rep);
  EXPECT_TRUE(has_finding(rep, 2, "seq_gap")) << dump(rep);
  // Garbage instead of an event: malformed at that position.
  records = read_all(d.path / "a.log");
  records[1].assign(records[1].size(), 0x5a);
  rep = verify(records, {key});
  EXPECT_TRUE(has_finding(rep, 1, "malformed")) << dump(rep);
  EXPECT_TRUE(has_finding(rep, 2, "seq_gap")) << dump(rep);
}

TEST(AuditLog, DeletedReorderedInsertedAndForgedEventsAreNamed) {
  TempDir d;
  const auto key = key_of(1);
  make_log(d.path / "a.log", key, 8);
  const auto good = read_all(d.path / "a.log");
  ASSERT_TRUE(verify(good, {key}).ok);

  auto deleted = good;
  deleted.erase(deleted.begin() + 4);
  auto rep = verify(deleted, {key});
  EXPECT_FALSE(rep.ok);
  ASSERT_EQ(rep.findings.size(), 1u) << dump(rep);
  EXPECT_EQ(rep.findings[0].code, "seq_gap");
  EXPECT_EQ(rep.findings[0].position, 4u);
  EXPECT_EQ(rep.findings[0].seq, 5u);
  EXPECT_NE(rep.findings[0].message.find("events 4..4 are missing"), std::string::npos)
      << dump(rep);

  auto swapped = good;
  std::swap(swapped[2], swapped[3]);
  rep = verify(swapped, {key});
  EXPECT_FALSE(rep.ok);
  EXPECT_TRUE(has_finding(rep, 2, "seq_gap")) << dump(rep);
  EXPECT_TRUE(has_finding(rep, 3, "seq_out_of_order")) << dump(rep);

  // The first event deleted: the chain does not start at 0.
  auto headless = good;
  headless.erase(headless.begin());
  rep = verify(headless, {key});
  EXPECT_TRUE(has_finding(rep, 0, "chain_start_missing")) << dump(rep);

  // A forged signature (another key over the same record hash).
  auto forged = good;
  {
    EventFields f = fields_of(forged[5]);
    const auto sig = key_of(9)->sign(f.record_hash);
    f.signature.assign(sig.begin(), sig.end());
    forged[5] = build_event(f);
  }
  rep = verify(forged, {key});
  EXPECT_FALSE(rep.ok);
  ASSERT_EQ(rep.findings.size(), 1u) << dump(rep);
  EXPECT_EQ(rep.findings[0].code, "bad_signature");
  EXPECT_EQ(rep.findings[0].position, 5u);

  // An inserted event, correctly chained and hashed but signed by a forger's key: its
  // signature fails and the events after it no longer follow.
  auto inserted = good;
  {
    const EventFields prev = fields_of(good[3]);
    EventFields f;
    f.seq = 4;
    f.time_ns = 1;
    f.type = "key.changed";
    f.log_id = prev.log_id;
    f.instance_id = "node-a";
    f.pipeline_name = "plant-1";
    f.key_id = key->key_id();
    f.details = {{"key_id", "attacker"}};
    f.prev_hash = prev.record_hash;
    const auto h = audit_record_hash(
        f.prev_hash, audit_canonical_bytes(f.seq, f.time_ns, f.type, f.log_id, f.instance_id,
                                           f.pipeline_name, f.key_id, f.details));
    f.record_hash.assign(h.begin(), h.end());
    const auto sig = key_of(9, key->key_id())->sign(h);
    f.signature.assign(sig.begin(), sig.end());
    inserted.insert(inserted.begin() + 4, build_event(f));
  }
  rep = verify(inserted, {key});
  EXPECT_FALSE(rep.ok);
  EXPECT_TRUE(has_finding(rep, 4, "bad_signature")) << dump(rep);
  EXPECT_FALSE(has_finding(rep, 4, "hash_mismatch")) << dump(rep);
  EXPECT_TRUE(has_finding(rep, 5, "seq_out_of_order")) << dump(rep);
}

TEST(AuditLog, ChainContinuesAcrossRestarts) {
  TempDir d;
  const auto key = key_of(1);
  const fs::path file = d.path / "a.log";
  make_log(file, key, 4);
  std::string log_id;
  {
    AuditLog log(options(file), key);
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    EXPECT_EQ(log.next_seq(), 4u);
    log_id = log.log_id();
    ASSERT_TRUE(log.record("engine.start", {}));
    ASSERT_TRUE(log.record("engine.stop", {}));
  }
  {
    AuditLog log(options(file), key);
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    EXPECT_EQ(log.next_seq(), 6u);
    EXPECT_EQ(log.log_id(), log_id);
    ASSERT_TRUE(log.record("engine.start", {}));
  }
  const auto records = read_all(file);
  ASSERT_EQ(records.size(), 7u);
  const auto rep = verify(records, {key});
  EXPECT_TRUE(rep.ok) << dump(rep);
  ASSERT_EQ(rep.chains.size(), 1u);
  EXPECT_EQ(rep.chains[0].last_seq, 6u);
}

TEST(AuditLog, TornLastFrameIsSetAsideAndRecorded) {
  // 13.12: a frame cut short (a crash inside the write) no longer stops the next start: its
  // bytes go next to the log, and the recovery is the first event written.
  TempDir d;
  const auto key = key_of(1);
  const fs::path file = d.path / "a.log";
  make_log(file, key, 4);
  const auto size = fs::file_size(file);
  fs::resize_file(file, size - 10);
  const auto whole = read_all(file);  // the three complete events
  ASSERT_EQ(whole.size(), 3u);
  {
    AuditLog log(options(file), key);
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    EXPECT_EQ(log.next_seq(), 4u);
    ASSERT_TRUE(log.record("engine.start", {}));
  }
  const auto records = read_all(file);
  ASSERT_EQ(records.size(), 5u);
  const auto* e = wire::GetAuditEvent(records[3].data());
  EXPECT_EQ(e->type()->str(), "audit.tail_recovered");
  EXPECT_EQ(e->seq(), 3u);
  std::map<std::string, std::string> details;
  for (const auto* dt : *e->details()) details[dt->key()->str()] = dt->value()->str();
  size_t good = 0;
  for (const auto& r : whole) good += 4 + r.size();
  EXPECT_EQ(details["byte"], std::to_string(good));
  EXPECT_EQ(details["bytes"], std::to_string(size - 10 - good));
  EXPECT_TRUE(fs::exists(details["moved_to"])) << details["moved_to"];
  EXPECT_EQ(fs::file_size(details["moved_to"]), std::stoull(details["bytes"]));
  EXPECT_TRUE(verify(records, {key}).ok) << dump(verify(records, {key}));
}

TEST(AuditLog, CorruptTailIsRefusedNotRestarted) {
  TempDir d;
  const auto key = key_of(1);
  // A last event whose content was altered.
  make_log(d.path / "b.log", key, 4);
  auto records = read_all(d.path / "b.log");
  auto& last = records.back();
  const std::string needle = "engine.stop";
  auto it = std::search(last.begin(), last.end(), needle.begin(), needle.end());
  ASSERT_NE(it, last.end());
  *it = 'E';
  write_all(d.path / "b.log", records);
  AuditLog log(options(d.path / "b.log"), key);
  std::string err;
  EXPECT_FALSE(log.open(&err));
  EXPECT_NE(err.find("does not match its record_hash"), std::string::npos) << err;
}

TEST(AuditVerify, ZeroLengthFrameIsMalformedNotUndefined) {
  // 13.14: a zero-length frame used to reach memcpy with a null source (UBSan aborts).
  const auto key = key_of(1);
  const std::vector<std::vector<uint8_t>> records = {{}};
  const auto rep = verify(records, {key});
  EXPECT_FALSE(rep.ok);
  ASSERT_EQ(rep.findings.size(), 1u);
  EXPECT_EQ(rep.findings[0].code, "malformed");
  EXPECT_EQ(rep.findings[0].position, 0u);
}

TEST(AuditLog, KeyChangeIsRecordedAndVerifiesWithBothKeys) {
  TempDir d;
  const auto k1 = key_of(1, "engine-2026a");
  const auto k2 = key_of(2, "engine-2026b");
  const fs::path file = d.path / "a.log";
  make_log(file, k1, 3);
  {
    AuditLog log(options(file), k2);
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    ASSERT_TRUE(log.record("engine.start", {}));
  }
  const auto records = read_all(file);
  ASSERT_EQ(records.size(), 5u);
  const auto* e = wire::GetAuditEvent(records[3].data());
  EXPECT_EQ(e->type()->str(), "key.changed");
  EXPECT_EQ(e->details()->Get(0)->value()->str(), "engine-2026a");
  EXPECT_EQ(e->details()->Get(1)->value()->str(), "engine-2026b");
  EXPECT_TRUE(verify(records, {k1, k2}).ok);
  const auto only_old = verify(records, {k1});
  EXPECT_TRUE(has_finding(only_old, 3, "bad_signature"));
  EXPECT_TRUE(has_finding(only_old, 4, "bad_signature"));
  EXPECT_FALSE(has_finding(only_old, 2, "bad_signature"));
}

TEST(AuditLog, ConcurrentRecordsFormOneContiguousChain) {
  TempDir d;
  const auto key = key_of(1);
  const fs::path file = d.path / "a.log";
  {
    AuditLog log(options(file), key);
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 25; ++i)
          log.record("registry.identity_changed", {{"thread", std::to_string(t)}});
      });
    for (auto& th : threads) th.join();
  }
  const auto records = read_all(file);
  ASSERT_EQ(records.size(), 100u);
  EXPECT_TRUE(verify(records, {key}).ok);
}

TEST(AuditLog, PipelineAuditSectionIsParsedAndValidated) {
  TempDir d;
  // An Ed25519 PKCS#8 key (RFC 8410 section 10.3 example).
  std::ofstream(d.path / "engine.key")
      << "-----BEGIN PRIVATE KEY-----\n"
         "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
         "-----END PRIVATE KEY-----\n";
  Registries reg;
  connectors::register_builtin_connectors(reg);
  Metrics metrics;
  const std::string base =
      "name: p\ninput: {type: file, path: in.asy}\nroutes:\n"
      "  trusted: {type: file, path: t.asy}\n  rejected: {type: jsonl, path: r.jsonl}\n";
  const std::string name = (d.path / "p.yaml").string();
  auto build = [&](const std::string& audit) {
    const std::string text = base + audit;
    return build_pipeline(ConfigNode::load_string(text, name), text, reg, metrics);
  };
  auto p = build("audit:\n  file: audit.log\n  key: engine.key\n  key_id: e1\n");
  ASSERT_TRUE(p->info.audit);
  EXPECT_EQ(p->info.audit->file(), (d.path / "audit.log").string());
  EXPECT_EQ(p->info.audit->key_id(), "e1");
  EXPECT_FALSE(fs::exists(d.path / "audit.log"));  // building (lint) writes nothing
  EXPECT_FALSE(build("")->info.audit);
  auto refused = [&](const std::string& audit, int line, int col, const std::string& key) {
    try {
      build(audit);
      ADD_FAILURE() << "accepted: " << audit;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.line(), line) << e.what();
      EXPECT_EQ(e.column(), col) << e.what();
      EXPECT_EQ(e.key(), key) << e.what();
    }
  };
  refused("audit:\n  file: audit.log\n  key: engine.key\n  colour: red\n", 9, 3, "audit.colour");
  refused("audit:\n  file: audit.log\n  key: missing.key\n", 8, 8, "audit.key");
  refused("audit:\n  file: audit.log\n", 7, 3, "audit.key");
  refused("audit:\n  file: audit.log\n  key: engine.key\n  topic: assay.audit\n", 9, 10,
          "audit.topic");
  refused(
      "audit:\n  file: audit.log\n  key: engine.key\n  topic: t\n  kafka: {brokers: embedded, "
      "acks: 1}\n",
      10, 30, "audit.kafka.acks");
  // A reload passes the running log: the same object is used, the section is not rebuilt.
  auto reloaded = build_pipeline(
      ConfigNode::load_string(base + "audit: {file: other.log, key: engine.key}\n", name), base,
      reg, metrics, p->info.audit);
  EXPECT_EQ(reloaded->info.audit, p->info.audit);
}

TEST(AuditLog, KafkaCopyIsConfirmedOrCountedAsFailed) {
  TempDir d;
  const auto key = key_of(1);
  connectors::KafkaClientSettings ok_client;
  ok_client.brokers = "embedded";  // librdkafka's in-process mock cluster
  {
    auto pub = std::make_unique<connectors::KafkaAuditPublisher>(ok_client, "assay.audit",
                                                                 "plant-1", nullptr);
    auto* raw = pub.get();
    AuditLog log(options(d.path / "a.log"), key, std::move(pub));
    std::string err;
    ASSERT_TRUE(log.open(&err)) << err;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log.record("engine.start", {}));
    log.close();
    EXPECT_EQ(raw->delivered(), 3u);
    EXPECT_EQ(log.failures(), 0u);
  }
  // An unreachable broker: the file still gets every event; the Kafka copy is counted failed.
  connectors::KafkaClientSettings bad_client;
  bad_client.brokers = "127.0.0.1:1";
  bad_client.properties["message.timeout.ms"] = "300";
  auto pub = std::make_unique<connectors::KafkaAuditPublisher>(bad_client, "assay.audit", "plant-1",
                                                               nullptr);
  auto* raw = pub.get();
  AuditLog log(options(d.path / "b.log"), key, std::move(pub));
  std::string err;
  ASSERT_TRUE(log.open(&err)) << err;
  ASSERT_TRUE(log.record("engine.start", {}));
  ASSERT_TRUE(log.record("engine.stop", {}));
  log.close();
  EXPECT_EQ(raw->delivered(), 0u);
  EXPECT_EQ(log.failures(), 2u);
  EXPECT_EQ(log.events_written(), 2u);
  EXPECT_TRUE(verify(read_all(d.path / "b.log"), {key}).ok);
}

}  // namespace
}  // namespace assay::engine
