// examples/quality.yaml end to end on a simulated fleet: every injected expired calibration and
// replay is rejected for that reason, the trusted stream verifies against its checkpoints, and
// the audit log verifies and records the identity and calibration registries it loaded.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "tests/cli/cli_util.hpp"

namespace {

using namespace assay;

namespace fs = std::filesystem;
using clitest::kAssay;
using clitest::Result;
using clitest::sh;
using clitest::count;

int64_t json_int(const std::string& json, const std::string& key) {
  const auto p = json.find("\"" + key + "\":");
  return p == std::string::npos ? -1 : std::strtoll(json.c_str() + p + key.size() + 3, nullptr, 10);
}

TEST(QualityExample, CatchesInjectedFaultsAndItsStreamAndAuditLogVerify) {
  const fs::path d = fs::temp_directory_path() / ("assay-quality-" + std::to_string(getpid()) +
                                                  "-" + std::to_string(std::random_device{}()));
  fs::create_directories(d);
  const std::string cd = "cd " + d.string() + " && ";
  Result r =
      sh(cd + kAssay +
         " simulate --out fleet.asy --registry-out sensors.yaml --certs-out certificates.yaml"
         " --labs-out labs.yaml --labels-out labels.jsonl --sensors 60 --records 12000"
         " --start-time 2026-01-01T00:00:00Z --threads 2");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(sh(cd + kAssay + " keygen --alg ed25519 --out engine").code, 0);
  const std::string env = "ASSAY_DEMO_DIR=" + d.string() +
                          " ASSAY_ENGINE_KEY=" + (d / "engine.key").string() +
                          " ASSAY_OUT_DIR=" + (d / "out").string() + " ";
  r = sh(cd + env + kAssay + " run " ASSAY_SOURCE_DIR "/examples/quality.yaml --no-progress" +
         " --summary-json summary.json");
  ASSERT_EQ(r.code, 0) << r.out;

  // Every injected expired calibration and replay is rejected for exactly that reason.
  std::ifstream labels(d / "labels.jsonl");
  std::stringstream ls;
  ls << labels.rdbuf();
  const size_t expired = count(ls.str(), "\"fault\":\"expired_calibration\"");
  const size_t replays = count(ls.str(), "\"fault\":\"replay\"");
  ASSERT_GT(expired, 0u);
  ASSERT_GT(replays, 0u);
  std::ifstream sj(d / "summary.json");
  std::stringstream ss;
  ss << sj.rdbuf();
  const std::string summary = ss.str();
  EXPECT_EQ(json_int(summary, "calibration.certificate_expired"), static_cast<int64_t>(expired))
      << summary;
  EXPECT_EQ(json_int(summary, "anomaly.replay"), static_cast<int64_t>(replays)) << summary;
  EXPECT_EQ(json_int(summary, "readings_in"),
            json_int(summary, "trusted") + json_int(summary, "rejected"));

  // The trusted stream verifies against its signed checkpoints; a flipped byte does not.
  const std::string verify = cd + kAssay +
                             " verify-stream --trusted out/quality-trusted.asy --attestations "
                             "out/quality-attestations.asy --public-key engine.pub";
  r = sh(verify);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("VERIFIED"), std::string::npos) << r.out;
  {
    std::fstream f(d / "out/quality-trusted.asy", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x20;
    f.seekp(200);
    f.write(&c, 1);
  }
  EXPECT_EQ(sh(verify).code, 1);

  // The audit log verifies and says what was loaded.
  r = sh(cd + kAssay + " verify-audit out/quality-audit.log --public-key engine.pub");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count(r.out, "engine.start "), 1u) << r.out;
  EXPECT_EQ(count(r.out, "config.load "), 1u) << r.out;
  EXPECT_GE(count(r.out, "registry.identity_loaded "), 1u) << r.out;
  EXPECT_GE(count(r.out, "registry.calibration_changed "), 1u) << r.out;
  EXPECT_NE(r.out.find("certificates=60"), std::string::npos) << r.out;
  EXPECT_EQ(count(r.out, "engine.stop "), 1u) << r.out;
  fs::remove_all(d);
}

}  // namespace
