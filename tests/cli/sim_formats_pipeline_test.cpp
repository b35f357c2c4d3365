// `assay simulate --format ocmf|senml-cose` into `assay run` with the matching input format
// (issue 15): every reading is accounted for, and each injected fault gets the reason its label
// says — forged and tampered records `signature.bad`, replays the format's replay reason, an
// unknown key its signature reason — while every clean record comes out trusted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/cli_util.hpp"

namespace {

namespace fs = std::filesystem;
using assay::clitest::kAssay;
using assay::clitest::sh;

struct Case {
  std::string format;   // simulate --format and the input's format
  std::string checks;   // the format's check operator
  std::string replay;   // the reason a replayed record gets
  std::string unknown;  // the reason an unknown_key record gets
};

class SimFormatPipeline : public ::testing::TestWithParam<Case> {};

TEST_P(SimFormatPipeline, EveryFaultGetsItsReasonAndEveryCleanRecordIsTrusted) {
  const Case& c = GetParam();
  const fs::path d = fs::temp_directory_path() /
                     ("assay-simfmt-run-" + c.format + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  auto r =
      sh(kAssay + " simulate --format " + c.format + " --out " + (d / "f.bin").string() +
         " --sensors 20 --records 3000 --seed 5 --registry-out " + (d / "sensors.yaml").string() +
         " --certs-out " + (d / "c.yaml").string() + " --labs-out " + (d / "l.yaml").string() +
         " --labels-out " + (d / "labels.jsonl").string() +
         " --fault forged=0.02 --fault tampered=0.02 --fault replay=0.02"
         " --fault unknown_key=0.02" +
         (c.format == "ocmf" ? " --fault clock_skew=0.01" : ""));
  ASSERT_EQ(r.code, 0) << r.out;
  // Readings per label.
  std::map<std::string, long long> label;
  {
    std::ifstream in(d / "labels.jsonl");
    std::string line;
    while (std::getline(in, line))
      ++label[nlohmann::json::parse(line).at("fault").get<std::string>()];
  }
  ASSERT_GT(label["forged"], 0);
  ASSERT_GT(label["replay"], 0);
  ASSERT_GT(label["unknown_key"], 0);
  // Every record is verified (no forgery-flood budget): the counts are exact.
  std::ofstream(d / "p.yaml") << "name: simfmt\ninput: {type: file, path: f.bin, format: " +
                                     c.format +
                                     "}\noperators:\n"
                                     "  - {type: verify_signature, registry: sensors.yaml}\n"
                                     "  - {type: " +
                                     c.checks +
                                     "}\nroutes:\n  trusted: {type: file, path: t.asy}\n"
                                     "  rejected: {type: jsonl, path: r.jsonl}\n";
  r = sh(kAssay + " run " + (d / "p.yaml").string() + " --no-progress --summary-json " +
         (d / "s.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream sj(d / "s.json");
  const auto s = nlohmann::json::parse(sj);
  long long total = 0;
  for (const auto& [k, v] : label) total += v;
  const auto& by = s.at("rejected_by_reason");
  auto reason = [&](const std::string& k) {
    return by.contains(k) ? by.at(k).get<long long>() : 0;
  };
  EXPECT_EQ(s.at("readings_in").get<long long>(), total);
  EXPECT_EQ(reason("signature.bad"), label["forged"] + label["tampered"]) << by.dump();
  EXPECT_EQ(reason(c.replay), label["replay"]) << by.dump();
  EXPECT_EQ(reason(c.unknown), label["unknown_key"]) << by.dump();
  // OCMF's clock_skew sets the time status to U: the whole record (all its readings) is
  // rejected as ocmf.time_unsynchronized. SenML cannot express a skew (the simulator refuses it).
  const long long unsync = reason("ocmf.time_unsynchronized");
  if (c.format == "ocmf") {
    EXPECT_GE(unsync, label["clock_skew"]);
    EXPECT_GT(label["clock_skew"], 0);
  } else {
    EXPECT_EQ(unsync, 0);
  }
  EXPECT_EQ(s.at("rejected").get<long long>(),
            label["forged"] + label["tampered"] + label["replay"] + label["unknown_key"] + unsync)
      << by.dump();
  EXPECT_EQ(s.at("trusted").get<long long>() + s.at("rejected").get<long long>(), total);
  fs::remove_all(d);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, SimFormatPipeline,
    ::testing::Values(Case{"ocmf", "ocmf_checks", "ocmf.pagination_replay",
                           "signature.unknown_sensor"},
                      Case{"senml-cose", "senml_checks", "senml.replay", "signature.unknown_key"}),
    [](const auto& info) { return info.param.format == "ocmf" ? "Ocmf" : "SenmlCose"; });

}  // namespace
