// `assay run` / `assay lint` / dispatcher exit codes and messages, through the real binary.
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

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("assay-cli-" + std::to_string(getpid()) + "-" +
                                            std::to_string(std::random_device{}()));
  fs::create_directories(d);
  return d;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(sh(kAssay).code, 2);
  EXPECT_EQ(sh(kAssay + " frobnicate").code, 2);
  EXPECT_EQ(sh(kAssay + " run").code, 2);
  EXPECT_EQ(sh(kAssay + " run a.yaml --bogus").code, 2);
  for (const char* c : {"run", "lint", "demo", "simulate", "keygen", "inspect"}) {
    const Result r = sh(kAssay + " " + c + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("usage: assay"), std::string::npos) << c;
  }
}

TEST(Cli, LintNamesFileLineColumnAndKey) {
  const fs::path d = temp_dir();
  const fs::path p = d / "bad.yaml";
  std::ofstream(p) << "name: x\ninput: {type: file, path: in.asy}\nroutes:\n"
                      "  trusted: {type: file, path: t}\n  rejected: {type: jsonl, path: r}\n"
                      "operators:\n  - type: verify_signature\n    registry: missing.yaml\n";
  Result r = sh(kAssay + " lint " + p.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find(p.string() + ":8:15: key 'operators[0].registry'"), std::string::npos)
      << r.out;
  // The same file with a good registry but a wrong type: the wrong type is named.
  std::ofstream(d / "reg.yaml") << "sensors: []\n";
  std::ofstream(p)
      << "name: x\ninput: {type: file, path: in.asy}\nroutes:\n"
         "  trusted: {type: file, path: t}\n  rejected: {type: jsonl, path: r}\n"
         "operators:\n  - type: verify_signature\n    registry: reg.yaml\n    chunk: many\n";
  r = sh(kAssay + " lint " + p.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find(":9:12: key 'operators[0].chunk': expected an integer"), std::string::npos)
      << r.out;
  // Nothing was started: no output files were created.
  EXPECT_FALSE(fs::exists(d / "t"));
  r = sh(kAssay + " run " + p.string() + " --no-progress");
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(d / "t"));
  // Valid.
  std::ofstream(p) << "name: x\ninput: {type: file, path: in.asy}\nroutes:\n"
                      "  trusted: {type: file, path: t}\n  rejected: {type: jsonl, path: r}\n"
                      "operators:\n  - type: verify_signature\n    registry: reg.yaml\n";
  r = sh(kAssay + " lint " + p.string());
  EXPECT_EQ(r.code, 0) << r.out;
  fs::remove_all(d);
}

TEST(Cli, SimulateThenRunAccountsForEveryRecordWithGarbageMixedIn) {
  const fs::path d = temp_dir();
  Result r =
      sh(kAssay + " simulate --out " + (d / "fleet.asy").string() +
         " --sensors 30 --records 3000 " + "--registry-out " + (d / "sensors.yaml").string() +
         " --certs-out " + (d / "c.yaml").string() + " --labs-out " + (d / "l.yaml").string() +
         " --labels-out " + (d / "labels.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.out;
  // Append garbage frames and a truncated one.
  {
    std::ofstream f(d / "fleet.asy", std::ios::app | std::ios::binary);
    std::mt19937 rng(3);
    for (int i = 0; i < 25; ++i) {
      const uint32_t n = 10 + rng() % 100;
      f.write(reinterpret_cast<const char*>(&n), 4);
      for (uint32_t k = 0; k < n; ++k) f.put(static_cast<char>(rng()));
    }
    const uint32_t n = 1000;
    f.write(reinterpret_cast<const char*>(&n), 4);
    f << "short";
  }
  std::ofstream(d / "p.yaml") << "name: cli\ninput: {type: file, path: fleet.asy}\n"
                                 "operators: [{type: verify_signature, registry: sensors.yaml}]\n"
                                 "routes:\n  trusted: {type: file, path: t.asy}\n"
                                 "  rejected: {type: jsonl, path: r.jsonl}\n";
  r = sh(kAssay + " run " + (d / "p.yaml").string() + " --no-progress --summary-json " +
         (d / "s.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("readings in = trusted+rejected          yes"), std::string::npos) << r.out;
  std::ifstream sj(d / "s.json");
  std::string summary((std::istreambuf_iterator<char>(sj)), {});
  EXPECT_NE(summary.find("\"frame.truncated\":1"), std::string::npos) << summary;
  // Every garbage frame is in rejected.jsonl with a machine-readable reason.
  std::ifstream rj(d / "r.jsonl");
  std::string line;
  int wire = 0;
  while (std::getline(rj, line))
    if (line.find("\"reason\":\"wire.") != std::string::npos ||
        line.find("\"reason\":\"frame.") != std::string::npos)
      ++wire;
  EXPECT_EQ(wire, 26);
  fs::remove_all(d);
}

TEST(Cli, SigtermDrainsGracefullyAndAccountsForWhatWasRead) {
  const fs::path d = temp_dir();
  Result r =
      sh(kAssay + " simulate --out " + (d / "fleet.asy").string() +
         " --sensors 50 --records 60000 " + "--registry-out " + (d / "sensors.yaml").string() +
         " --certs-out " + (d / "c.yaml").string() + " --labs-out " + (d / "l.yaml").string() +
         " --labels-out " + (d / "labels.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.out;
  // A verifying pipeline with small batches so the run lasts long enough to be interrupted.
  std::ofstream(d / "p.yaml")
      << "name: drain\ninput: {type: file, path: fleet.asy}\n"
         "operators: [{type: verify_signature, registry: sensors.yaml, backend: openssl}]\n"
         "routes:\n  trusted: {type: file, path: t.asy}\n"
         "  rejected: {type: file, path: r.asy}\n"
         "engine: {batch_size: 16, max_in_flight: 2, threads: 1}\n";
  const std::string cmd = kAssay + " run " + (d / "p.yaml").string() +
                          " --no-progress --summary-json " + (d / "s.json").string() + " > " +
                          (d / "out.txt").string() + " 2>&1 & pid=$!; " +
                          "sleep 1; kill -TERM $pid; wait $pid; echo exit=$?";
  r = sh(cmd);
  EXPECT_NE(r.out.find("exit=0"), std::string::npos) << r.out;
  std::ifstream sj(d / "s.json");
  const std::string summary((std::istreambuf_iterator<char>(sj)), {});
  ASSERT_FALSE(summary.empty()) << "no summary after SIGTERM";
  auto num = [&](const std::string& key) {
    const auto p = summary.find("\"" + key + "\":");
    return p == std::string::npos ? -1LL : std::stoll(summary.substr(p + key.size() + 3));
  };
  const long long in = num("readings_in"), trusted = num("trusted"), rejected = num("rejected");
  EXPECT_GT(in, 0);
  EXPECT_LT(in, 60000) << "the run finished before the signal; make it longer";
  EXPECT_EQ(in, trusted + rejected);
  fs::remove_all(d);
}

TEST(Cli, DemoOnTheEmbeddedClusterProcessesEverySimulatedReading) {
  const fs::path d = temp_dir();
  // Run from the source tree (the demo's default pipeline path is relative to it).
  // The default size: large enough that an unpaced simulator outruns the embedded cluster's
  // per-partition log (about 100k records) and records would be lost.
#ifdef ASSAY_SANITIZED
  const std::string size = "--sensors 100 --records 60000";
#else
  const std::string size = "--sensors 500 --records 500000";
#endif
  const Result r = sh("cd " ASSAY_SOURCE_DIR " && ASSAY_DEMO_METRICS=127.0.0.1:0 " + kAssay +
                      " demo --no-progress " + size + " --dir " + d.string());
  ASSERT_EQ(r.code, 0) << r.out;
  auto number_after = [&](const std::string& label) {
    const auto p = r.out.find(label);
    if (p == std::string::npos) return -1LL;
    size_t q = p + label.size();
    while (q < r.out.size() && (r.out[q] == ' ' || r.out[q] == ':')) ++q;
    return std::stoll(r.out.substr(q));
  };
  const long long simulated = number_after("simulate:");
  const long long in = number_after("readings in  ");
  ASSERT_GT(simulated, 60000);
  // Every simulated reading reached the pipeline (the embedded cluster drops old records when
  // a producer runs far ahead, so the demo paces its simulator) and was routed.
  EXPECT_EQ(in, simulated) << r.out;
  EXPECT_NE(r.out.find("readings in = trusted+rejected          yes"), std::string::npos) << r.out;
  fs::remove_all(d);
}

// `assay demo --format ocmf|senml-cose`: the fleet sends the instrument format into the embedded
// cluster and the matching example pipeline reads it; every reading is routed, replays get the
// format's replay reason and forged or tampered records signature.bad.
TEST(Cli, DemoInInstrumentFormatsRoutesEveryReading) {
  for (const std::string format : {"ocmf", "senml-cose"}) {
    SCOPED_TRACE(format);
    const fs::path d = temp_dir();
    const Result r = sh("cd " ASSAY_SOURCE_DIR " && " + kAssay + " demo --no-progress --format " +
                        format + " --sensors 20 --records 3000 --dir " + d.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("readings in = trusted+rejected          yes"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(format == "ocmf" ? "ocmf.pagination_replay" : "senml.replay"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("signature.bad"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(format == "ocmf" ? "OCMF records" : "COSE messages"), std::string::npos)
        << r.out;
    fs::remove_all(d);
  }
}

}  // namespace
