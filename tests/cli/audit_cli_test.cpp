// `assay run` with an `audit:` section writes a verifiable audit log (engine.start,
// config.load, registry.identity_loaded, engine.stop) that continues across runs;
// `assay verify-audit` names a tampered place, refuses a wrong key, and a corrupt tail stops
// the next run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/cli/cli_util.hpp"

namespace {

using namespace assay;

namespace fs = std::filesystem;
using clitest::kAssay;
using clitest::Result;
using clitest::sh;
using clitest::count;

TEST(AuditCli, RunWritesAVerifiableLogThatContinuesAcrossRuns) {
  const fs::path d = fs::temp_directory_path() / ("assay-audit-cli-" + std::to_string(getpid()) +
                                                  "-" + std::to_string(std::random_device{}()));
  fs::create_directories(d);
  const std::string cd = "cd " + d.string() + " && ";
  ASSERT_EQ(sh(cd + kAssay + " keygen --alg ed25519 --out engine --key-id engine-test").code, 0);
  ASSERT_EQ(sh(cd + kAssay + " keygen --alg ed25519 --out other").code, 0);
  Result r = sh(cd + kAssay + " simulate --out fleet.asy --sensors 4 --records 200");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ofstream(d / "p.yaml")
      << "name: audited\ninput: {type: file, path: fleet.asy}\n"
         "operators:\n  - type: verify_signature\n    registry: sensors.yaml\n"
         "routes:\n  trusted: {type: file, path: t.asy}\n"
         "  rejected: {type: jsonl, path: r.jsonl}\n"
         "audit:\n  file: audit.log\n  key: engine.key\n  key_id: engine-test\n";
  // lint builds the pipeline (and loads the key) but writes no audit event.
  r = sh(cd + kAssay + " lint p.yaml");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(d / "audit.log"));
  for (int run = 0; run < 2; ++run) {
    r = sh(cd + kAssay + " run p.yaml --no-progress");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  r = sh(cd + kAssay + " verify-audit audit.log --public-key engine.pub");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count(r.out, ": engine.start seq="), 2u) << r.out;
  EXPECT_EQ(count(r.out, ": config.load seq="), 2u) << r.out;
  EXPECT_EQ(count(r.out, ": registry.identity_loaded seq="), 2u) << r.out;
  EXPECT_EQ(count(r.out, ": engine.stop seq="), 2u) << r.out;
  EXPECT_NE(r.out.find("8 events, last seq 7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok: audit.log (8 events, 0 findings)"), std::string::npos) << r.out;
  // engine.start carries the version and the binary's SHA-256, config.load the config's.
  EXPECT_EQ(count(r.out, " binary_sha256="), 2u) << r.out;
  EXPECT_EQ(count(r.out, " config_sha256="), 2u) << r.out;
  EXPECT_EQ(count(r.out, " registry_sha256="), 2u) << r.out;
  EXPECT_NE(r.out.find("engine.stop seq=3 "), std::string::npos) << r.out;

  // A wrong pinned key: every event is named.
  r = sh(cd + kAssay + " verify-audit audit.log --quiet --public-key other.pub");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(count(r.out, "FAIL bad_signature"), 8u) << r.out;
  // Usage errors.
  EXPECT_EQ(sh(cd + kAssay + " verify-audit audit.log").code, 2);
  EXPECT_EQ(sh(cd + kAssay + " verify-audit audit.log --public-key nothex").code, 2);
  EXPECT_EQ(sh(cd + kAssay + " verify-audit --help").code, 0);

  // Flip one byte inside event 2's type ("registry.identity_loaded" -> "registry.identity_loadeD").
  std::string bytes;
  {
    std::ifstream in(d / "audit.log", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string original = bytes;
  const size_t at = bytes.find("identity_loaded");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 14] = 'D';
  std::ofstream(d / "audit.log", std::ios::binary | std::ios::trunc) << bytes;
  r = sh(cd + kAssay + " verify-audit audit.log --quiet --public-key engine.pub");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL hash_mismatch: position 2, seq 2:"), std::string::npos) << r.out;

  // A truncated tail: verify-audit names the byte; the next run sets the torn frame aside,
  // records that, and goes on (13.12).
  std::ofstream(d / "audit.log", std::ios::binary | std::ios::trunc)
      << original.substr(0, original.size() - 7);
  r = sh(cd + kAssay + " verify-audit audit.log --quiet --public-key engine.pub");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL framing: position 7 (byte "), std::string::npos) << r.out;
  r = sh(cd + kAssay + " run p.yaml --no-progress");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("torn last frame of the audit log set aside"), std::string::npos) << r.out;
  r = sh(cd + kAssay + " verify-audit audit.log --public-key engine.pub");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("position 7 (byte "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("audit.tail_recovered seq=7 "), std::string::npos) << r.out;
  // 13.14: a zero-length frame is a finding, not undefined behaviour.
  {
    std::ofstream(d / "zero.log", std::ios::binary) << std::string(4, '\0');
  }
  r = sh(cd + kAssay + " verify-audit zero.log --quiet --public-key engine.pub");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL malformed: position 0"), std::string::npos) << r.out;
  fs::remove_all(d);
}

}  // namespace
