// Durable operator state for file pipelines (`state: {type: file}`, docs/state.md): the
// anomaly state a run ends with is checkpointed next to the outputs and restored by the next
// run, so records replayed into a later input file are still replays; a corrupt checkpoint
// stops the run naming the file; `assay state reset` deletes it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "engine/framing.hpp"
#include "tests/cli/cli_util.hpp"

namespace {

namespace fs = std::filesystem;
using assay::clitest::kAssay;
using assay::clitest::Result;
using assay::clitest::sh;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("assay-fstate-" + std::to_string(getpid()) + "-" +
                                            std::to_string(std::random_device{}()));
  fs::create_directories(d);
  return d;
}

long long summary_num(const fs::path& json, const std::string& key) {
  std::ifstream f(json);
  const std::string s((std::istreambuf_iterator<char>(f)), {});
  const auto p = s.find("\"" + key + "\":");
  return p == std::string::npos ? -1LL : std::stoll(s.substr(p + key.size() + 3));
}

std::string pipeline(const fs::path& d, const std::string& input, const std::string& state) {
  return "name: fstate\ninput: {type: file, path: " + input +
         "}\noperators:\n  - type: verify_signature\n    registry: sensors.yaml\n"
         "  - type: anomaly\n    name: screen\n    registry: sensors.yaml\n    reject: [replay]\n"
         "routes:\n  trusted: {type: file, path: trusted.asy, append: true}\n"
         "  rejected: {type: file, path: rejected.asy, append: true}\n" +
         state + "\n";
  (void)d;
}

TEST(FileState, ReplayedRecordsInALaterRunAreStillReplays) {
  const fs::path d = temp_dir();
  std::string faults;
  for (const char* f :
       {"forged", "tampered", "replay", "unknown_key", "spike", "stuck", "drift", "clock_skew"})
    faults += std::string(" --fault ") + f + "=0";
  Result r = sh(kAssay + " simulate --out " + (d / "fleet.asy").string() +
                " --sensors 10 --records 400 --batch-fraction 0 --seed 3 --registry-out " +
                (d / "sensors.yaml").string() + " --certs-out " + (d / "c.yaml").string() +
                " --labs-out " + (d / "l.yaml").string() + faults);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto frames = assay::engine::read_frame_file((d / "fleet.asy").string());
  ASSERT_EQ(frames.size(), 400u);
  {
    std::vector<uint8_t> out;
    for (size_t i : {5u, 200u, 399u}) assay::engine::append_frame(out, frames[i]);
    std::ofstream(d / "replays.asy", std::ios::binary)
        .write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  }
  const std::string state = "state: {type: file, path: state.ckpt}";
  std::ofstream(d / "p1.yaml") << pipeline(d, "fleet.asy", state);
  std::ofstream(d / "p2.yaml") << pipeline(d, "replays.asy", state);
  auto run = [&](const std::string& yaml, const std::string& json) {
    return sh(kAssay + " run " + (d / yaml).string() + " --no-progress --summary-json " +
              (d / json).string());
  };
  r = run("p1.yaml", "s1.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(summary_num(d / "s1.json", "trusted"), 400);
  ASSERT_TRUE(fs::exists(d / "state.ckpt"));
  EXPECT_FALSE(fs::exists(d / "state.ckpt.tmp"));

  r = run("p2.yaml", "s2.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(summary_num(d / "s2.json", "trusted"), 0) << "replays after a restart are replays";
  EXPECT_EQ(summary_num(d / "s2.json", "rejected"), 3);
  std::ifstream rej(d / "rejected.asy", std::ios::binary);
  const std::string rejected((std::istreambuf_iterator<char>(rej)), {});
  size_t replays = 0;
  for (size_t p = rejected.find("anomaly.replay"); p != std::string::npos;
       p = rejected.find("anomaly.replay", p + 1))
    ++replays;
  EXPECT_EQ(replays, 3u) << rejected;

  // Without the checkpoint the same records pass: the state is what catches them.
  std::ofstream(d / "p3.yaml") << pipeline(d, "replays.asy", "state: {type: none}");
  r = run("p3.yaml", "s3.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(summary_num(d / "s3.json", "trusted"), 3);

  // A corrupt checkpoint stops the run, naming the file; the reset is the way out.
  std::string ck;
  {
    std::ifstream f(d / "state.ckpt", std::ios::binary);
    ck.assign((std::istreambuf_iterator<char>(f)), {});
  }
  ASSERT_GT(ck.size(), 100u);
  ck[ck.size() - 20] ^= 0x01;
  std::ofstream(d / "state.ckpt", std::ios::binary) << ck;
  r = run("p2.yaml", "s4.json");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("state file '" + (d / "state.ckpt").string() + "'"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("checksum mismatch"), std::string::npos) << r.out;
  r = sh(kAssay + " state reset " + (d / "p2.yaml").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(d / "state.ckpt"));
  r = run("p2.yaml", "s5.json");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(summary_num(d / "s5.json", "trusted"), 3) << "empty state after the reset";
  fs::remove_all(d);
}

}  // namespace
