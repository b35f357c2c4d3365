// verify_signature records identity registry loads, live changes and refused reloads in the
// audit log, with counts and the registry file's SHA-256.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "engine/framing.hpp"
#include "engine/audit_log.hpp"
#include "engine/audit_verify.hpp"
#include "operators/verify_signature.hpp"
#include "schemas/audit_event_generated.h"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;

std::string registry(int sensors) {
  std::string s = "sensors:\n";
  for (int i = 0; i < sensors; ++i)
    s += "  - sensor_id: s" + std::to_string(i) + "\n    keys:\n      - key_id: k" +
         std::to_string(i) + "\n        alg: Ed25519\n        public_key: \"" +
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"\n";
  return s;
}

void write_registry(const fs::path& p, const std::string& text, int bump) {
  std::ofstream(p, std::ios::trunc) << text;
  // A distinct mtime even on coarse-grained file systems.
  fs::last_write_time(p, fs::file_time_type::clock::now() + std::chrono::seconds(bump));
}

std::string detail(const wire::AuditEvent* e, const std::string& key) {
  for (const auto* d : *e->details())
    if (d->key()->str() == key) return d->value()->str();
  return "<none>";
}

TEST(VerifySignatureAudit, RegistryLoadsChangesAndRefusalsAreRecorded) {
  const fs::path dir = fs::temp_directory_path() / ("assay-vs-audit-" + std::to_string(getpid()) +
                                                    "-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  write_registry(dir / "sensors.yaml", registry(2), 0);
  std::array<uint8_t, 32> seed{};
  seed.fill(3);
  const auto key = engine::EngineKey::from_seed(seed);
  engine::AuditOptions o;
  o.file = (dir / "audit.log").string();
  o.pipeline_name = "p";
  o.instance_id = "i";
  o.fsync = false;
  auto log = std::make_shared<engine::AuditLog>(o, key);
  std::string err;
  ASSERT_TRUE(log->open(&err)) << err;
  VerifySignatureConfig cfg;
  auto store = registries::IdentityStore::open((dir / "sensors.yaml").string(), 50, log);
  cfg.identity = store;
  VerifySignature op(cfg);
  ASSERT_TRUE(store->start(&err)) << err;
  auto wait_for = [&](uint64_t n) {
    for (int i = 0; i < 200 && log->next_seq() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return log->next_seq() >= n;
  };
  ASSERT_TRUE(wait_for(1));
  write_registry(dir / "sensors.yaml", registry(3), 10);
  ASSERT_TRUE(wait_for(2));
  write_registry(dir / "sensors.yaml", "sensors: [ {", 20);  // a broken file is refused
  ASSERT_TRUE(wait_for(3));
  store->stop();
  log->close();

  const auto records = engine::read_frame_file(o.file);
  ASSERT_EQ(records.size(), 3u);
  std::vector<std::array<uint8_t, 32>> pub{key->public_key()};
  EXPECT_TRUE(engine::verify_audit_log(records, pub).ok);
  const auto* loaded = wire::GetAuditEvent(records[0].data());
  const auto* changed = wire::GetAuditEvent(records[1].data());
  const auto* failed = wire::GetAuditEvent(records[2].data());
  EXPECT_EQ(loaded->type()->str(), "registry.identity_loaded");
  EXPECT_EQ(detail(loaded, "sensors"), "2");
  EXPECT_EQ(detail(loaded, "registry_sha256").size(), 64u);
  EXPECT_EQ(changed->type()->str(), "registry.identity_changed");
  EXPECT_EQ(detail(changed, "sensors"), "3");
  EXPECT_EQ(detail(changed, "keys"), "3");
  EXPECT_NE(detail(changed, "registry_sha256"), detail(loaded, "registry_sha256"));
  EXPECT_EQ(failed->type()->str(), "registry.identity_reload_failed");
  EXPECT_EQ(detail(failed, "sensors"), "3");  // the previous registry stays
  EXPECT_NE(detail(failed, "error"), "<none>");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace assay::operators
