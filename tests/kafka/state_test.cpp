// Durable operator state on the real broker (issue 14, docs/state.md): anomaly's per-sensor
// state lives in a compacted changelog topic, is restored when a partition is assigned
// (restart or rebalance), and so a replay after a restart is still a replay. A corrupt
// changelog stops the pipeline with the topic, partition and offset; `assay state reset` is
// the one way to start from empty, recorded in the audit log.
#include "schemas/reading_generated.h"
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

struct StateSpec {
  std::string input, group, trusted, rejected, registry, audit_key, audit_file;
  int metrics_port = 0;
};

// Fresh topic and group names for a test, with the fleet's registry.
StateSpec fresh_spec(const Fleet& fleet) {
  StateSpec s;
  s.input = unique_name("state-in");
  s.group = unique_name("state-group");
  s.trusted = unique_name("state-trusted");
  s.rejected = unique_name("state-rejected");
  s.registry = fleet.registry().string();
  return s;
}

std::string state_pipeline(const StateSpec& s) {
  std::ostringstream y;
  y << "name: state-it\n"
    << "input:\n  type: kafka\n  brokers: " << bootstrap() << "\n  topic: " << s.input
    << "\n  group_id: " << s.group << "\n  idle_timeout_ms: 3000\n"
    << "operators:\n"
    << "  - type: verify_signature\n    registry: " << s.registry << "\n"
    << "  - type: anomaly\n    name: screen\n    registry: " << s.registry << "\n"
    << "    reject: [replay]\n"
    << "routes:\n"
    << "  trusted:\n    type: kafka\n    brokers: " << bootstrap() << "\n    topic: " << s.trusted
    << "\n  rejected:\n    type: kafka\n    brokers: " << bootstrap()
    << "\n    topic: " << s.rejected << "\n";
  if (!s.audit_file.empty())
    y << "audit:\n  file: " << s.audit_file << "\n  key: " << s.audit_key << "\n";
  if (s.metrics_port > 0) y << "metrics:\n  listen: 127.0.0.1:" << s.metrics_port << "\n";
  return y.str();
}

int run_pipeline(const fs::path& dir, const std::string& name) {
  return run_to_end({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress",
                     "--summary-json", (dir / (name + ".json")).string()},
                    dir, name, 240s);
}

std::map<std::string, int> reasons(const std::vector<Message>& rejected) {
  std::map<std::string, int> out;
  for (const Message& m : rejected) ++out[decode_output(m).reason];
  return out;
}

Fleet honest_fleet() {
  return simulated_fleet("state-600", {"--records", "600", "--sensors", "12", "--seed", "31"});
}

// Honest frames of the fleet (fault label "none").
std::vector<size_t> honest_frames(const Fleet& fleet, size_t n) {
  const auto labels = frame_labels(fleet.labels(), n);
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    if (labels[i] == "none") out.push_back(i);
  return out;
}

TEST(KafkaDurableState, ReplayAfterRestartIsStillAReplay) {
  ASSAY_REQUIRE_BROKER();
  const Fleet fleet = honest_fleet();
  const auto frames = read_frames(fleet.records());
  ASSERT_GE(frames.size(), 400u);
  const std::vector<size_t> honest = honest_frames(fleet, frames.size());
  ASSERT_GE(honest.size(), 300u);

  const fs::path dir = work_dir("state-restart");
  StateSpec s = fresh_spec(fleet);
  create_topic(s.input, 3);
  create_topic(s.trusted, 3);
  create_topic(s.rejected, 3);
  write_text(dir / "pipeline.yaml", state_pipeline(s));

  produce_by_sensor(s.input, 3, frames, honest);
  ASSERT_EQ(run_pipeline(dir, "run1"), 0) << read_text(dir / "run1.err");
  size_t readings = 0;
  std::vector<size_t> singles;  // honest frames of one SignedReading each
  for (size_t i : honest) {
    readings += readings_in_frame(frames[i]);
    if (!frame_sensor(frames[i]).empty()) singles.push_back(i);
  }
  ASSERT_GE(singles.size(), 100u);
  const auto trusted1 = consume_all(s.trusted);
  const auto rejected1 = consume_all(s.rejected);
  EXPECT_EQ(trusted1.size(), readings) << "every honest reading trusted";
  EXPECT_EQ(rejected1.size(), 0u);

  // The changelog holds each sensor's latest entry; its name follows the group and stage.
  const std::string changelog = s.group + "-screen-changelog";
  EXPECT_EQ(end_offsets(changelog).size(), 3u) << "one changelog partition per input partition";
  EXPECT_GT(sum(end_offsets(changelog)), 0);

  // Three of those exact frames again, after the restart.
  const std::vector<size_t> replayed{singles[10], singles[singles.size() / 2], singles.back()};
  produce_by_sensor(s.input, 3, frames, replayed);
  ASSERT_EQ(run_pipeline(dir, "run2"), 0) << read_text(dir / "run2.err");
  const auto trusted2 = consume_all(s.trusted);
  const auto rejected2 = consume_all(s.rejected);
  EXPECT_EQ(trusted2.size(), readings) << "no replayed frame is trusted after the restart";
  ASSERT_EQ(rejected2.size(), 3u);
  EXPECT_EQ(reasons(rejected2)["anomaly.replay"], 3);
  const std::string summary = read_text(dir / "run2.json");
  EXPECT_EQ(json_int(summary, "trusted"), 0) << summary;
  EXPECT_NE(read_text(dir / "run2.err").find("partition state restored"), std::string::npos);
}

TEST(KafkaDurableState, CorruptChangelogStopsWithItsPlaceAndResetIsAudited) {
  ASSAY_REQUIRE_BROKER();
  const Fleet fleet = honest_fleet();
  const auto frames = read_frames(fleet.records());
  const std::vector<size_t> honest = honest_frames(fleet, frames.size());
  ASSERT_GE(honest.size(), 100u);

  const fs::path dir = work_dir("state-corrupt");
  StateSpec s = fresh_spec(fleet);
  ASSERT_EQ(
      run_to_end({assay_bin(), "keygen", "--alg", "ed25519", "--out", (dir / "engine").string()},
                 dir, "keygen", 60s),
      0)
      << read_text(dir / "keygen.err");
  s.audit_key = (dir / "engine.key").string();
  s.audit_file = (dir / "audit.asy").string();
  create_topic(s.input, 1);
  create_topic(s.trusted, 1);
  create_topic(s.rejected, 1);
  write_text(dir / "pipeline.yaml", state_pipeline(s));
  const std::vector<size_t> first(honest.begin(), honest.begin() + 50);
  produce_by_sensor(s.input, 1, frames, first);
  ASSERT_EQ(run_pipeline(dir, "run1"), 0) << read_text(dir / "run1.err");

  // A byte flipped in a stored entry (written as a record of its own).
  const std::string changelog = s.group + "-screen-changelog";
  const auto stored = consume_all(changelog);
  ASSERT_FALSE(stored.empty());
  std::vector<std::vector<uint8_t>> bad{stored.back().value};
  bad[0][bad[0].size() / 2] ^= 0x01;
  Producer corrupt(changelog);
  corrupt.produce(bad, 0, 1);
  ASSERT_TRUE(corrupt.flush());
  const int64_t bad_offset = sum(end_offsets(changelog)) - 1;

  produce_by_sensor(s.input, 1, frames, {honest[60]});
  EXPECT_NE(run_pipeline(dir, "run2"), 0) << "a corrupt state must stop the pipeline";
  const std::string err = read_text(dir / "run2.err");
  EXPECT_NE(err.find("changelog topic '" + changelog + "' partition 0 at offset " +
                     std::to_string(bad_offset)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("checksum mismatch"), std::string::npos) << err;
  EXPECT_EQ(consume_all(s.trusted).size(), first.size()) << "nothing processed on a corrupt state";

  // The explicit reset, recorded in the audit log; then the pipeline starts from empty.
  ASSERT_EQ(run_to_end({assay_bin(), "state", "reset", (dir / "pipeline.yaml").string()}, dir,
                       "reset", 120s),
            0)
      << read_text(dir / "reset.err");
  EXPECT_NE(read_text(dir / "reset.out").find(changelog), std::string::npos)
      << read_text(dir / "reset.out");
  EXPECT_NE(read_text(s.audit_file).find("state.reset"), std::string::npos)
      << "the reset is an audit event";
  ASSERT_EQ(run_pipeline(dir, "run3"), 0) << read_text(dir / "run3.err");
  EXPECT_EQ(consume_all(s.trusted).size(), first.size() + 1);
}

}  // namespace
}  // namespace assay::kt
