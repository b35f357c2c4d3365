// Issue 13, item 13, at the command line: `assay test` reading times and `assay simulate
// --start-time` use the one date rule (engine::parse_time): refused with the reason, never
// wrapped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cli_util.hpp"

namespace assay::clitest {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("assay-time-" + std::to_string(getpid()) + "-" +
                                                  std::to_string(std::random_device{}()));
  fs::create_directories(d);
  return d;
}

Result config_test_with_time(const fs::path& d, const std::string& time) {
  std::ofstream(d / "pipeline.yaml") << "name: x\n"
                                        "input: {type: file, path: in.asy}\n"
                                        "routes:\n"
                                        "  trusted: {type: jsonl, path: t.jsonl}\n"
                                        "  rejected: {type: jsonl, path: r.jsonl}\n";
  std::ofstream(d / "t.yaml") << "pipeline: pipeline.yaml\n"
                                 "cases:\n"
                                 "  - name: c\n"
                                 "    input:\n"
                                 "      - reading:\n"
                                 "          time: \"" +
                                     time +
                                     "\"\n"
                                     "          sensor_id: s\n"
                                     "          seq: 1\n"
                                     "          quantity: temperature\n"
                                     "          unit: Cel\n"
                                     "          value: 1\n"
                                     "    expect:\n"
                                     "      rejected: {count: 1}\n";
  return sh(kAssay + " test " + (d / "t.yaml").string());
}

TEST(CliTime, ConfigTestTimesOutsideTheRangeOrMalformedAreRefusedWithTheReason) {
  const fs::path d = temp_dir();
  const std::string at = (d / "t.yaml").string() + ":6:17: key 'cases[0].input[0].reading.time'";
  {
    const Result r = config_test_with_time(d, "now+1000000000d");  // ~2.7 million years
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(at), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("outside 1677-09-21..2262-04-11"), std::string::npos) << r.out;
  }
  {
    const Result r = config_test_with_time(d, "2600-01-01T00:00:00Z");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(at), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("is after 2262-04-11T23:47:16.854775807Z"), std::string::npos) << r.out;
  }
  {
    const Result r = config_test_with_time(d, "2016-12-31T23:59:60Z");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("leap second"), std::string::npos) << r.out;
  }
  fs::remove_all(d);
}

TEST(CliTime, SimulateStartTimeOutsideTheRangeIsAUsageErrorWithTheReason) {
  const fs::path d = temp_dir();
  // (In the temporary directory: a simulate that ran would write its side files there.)
  const Result r = sh("cd " + d.string() + " && " + kAssay +
                      " simulate --out f.asy --records 10 --start-time 2600-01-01T00:00:00Z");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--start-time: '2600-01-01T00:00:00Z' is after 2262-04-11"),
            std::string::npos)
      << r.out;
  fs::remove_all(d);
}

}  // namespace
}  // namespace assay::clitest
