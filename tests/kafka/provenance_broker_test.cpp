// Provenance on the real broker: two `assay run` instances in one consumer group, the second
// joining mid-stream so that partitions (and their hash chains) move to it. The chains must
// continue across the move, read back from the trusted and attestations topics, and the whole
// stream must verify with `assay verify-stream` reading the topics.
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string provenance_yaml(const std::string& in, const std::string& group,
                            const std::string& trusted, const std::string& rejected,
                            const std::string& atts) {
  const std::string k = "{type: kafka, brokers: " + bootstrap() + ", ";
  return "name: kafka-provenance\n"
         "input: " +
         k + "topic: " + in + ", group_id: " + group +
         ", idle_timeout_ms: 8000, properties: {session.timeout.ms: 6000, "
         "heartbeat.interval.ms: 500}}\n"
         "operators:\n"
         "  - {type: provenance, key: " ASSAY_SOURCE_DIR
         "/examples/testdata/engine.key, "
         "checkpoint: {every_records: 500, every_ms: 200}}\n"
         "routes:\n"
         "  trusted: " +
         k + "topic: " + trusted +
         ", partition: source}\n"
         "  rejected: " +
         k + "topic: " + rejected +
         "}\n"
         "  attestations: " +
         k + "topic: " + atts +
         ", partition: source}\n"
         "engine: {batch_size: 256, max_in_flight: 4}\n";
}

TEST(KafkaProvenance, ChainsContinueWhenPartitionsMoveToAnotherInstance) {
  ASSAY_REQUIRE_BROKER();
  const Fleet fleet = simulated_fleet("prov-hmac", {"--records", "12000", "--sensors", "100",
                                                    "--seed", "3", "--alg-mix", "hmac=1"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 1000u);

  const fs::path dir = work_dir("provenance");
  const std::string in = unique_name("prov-in"), group = unique_name("prov-group");
  const std::string trusted = unique_name("prov-trusted"), rejected = unique_name("prov-rej");
  const std::string atts = unique_name("prov-att");
  create_topic(in, 4);
  create_topic(trusted, 4);
  create_topic(rejected, 1);
  create_topic(atts, 4);
  write_text(dir / "p.yaml", provenance_yaml(in, group, trusted, rejected, atts));

  // The first instance owns every partition and writes the first half.
  Producer prod(in);
  const size_t half = frames.size() / 2;
  prod.produce(frames, 0, half);
  ASSERT_TRUE(prod.flush(120000));
  Child first({assay_bin(), "run", (dir / "p.yaml").string(), "--no-progress"}, dir / "a.out",
              dir / "a.err", {{"ASSAY_INSTANCE_ID", "first"}});
  ASSERT_TRUE(first.started());
  ASSERT_TRUE(
      wait_until([&] { return sum(end_offsets(trusted)) >= static_cast<int64_t>(half); }, 120s))
      << first.err();

  // The second joins: partitions move to it, with their chains; then the second half arrives.
  Child second({assay_bin(), "run", (dir / "p.yaml").string(), "--no-progress"}, dir / "b.out",
               dir / "b.err", {{"ASSAY_INSTANCE_ID", "second"}});
  ASSERT_TRUE(second.started());
  ASSERT_TRUE(wait_until([&] { return contains(second.err(), "partitions assigned"); }, 60s))
      << second.err();
  ASSERT_TRUE(wait_until([&] { return contains(first.err(), "partitions revoked"); }, 30s))
      << first.err();
  prod.produce(frames, half, frames.size() - half);
  ASSERT_TRUE(prod.flush(120000));
  const auto rc_first = first.wait_for(180s);
  const auto rc_second = second.wait_for(180s);
  ASSERT_TRUE(rc_first.has_value() && rc_second.has_value()) << "an instance did not finish";
  EXPECT_EQ(*rc_first, 0) << first.err();
  EXPECT_EQ(*rc_second, 0) << second.err();
  EXPECT_TRUE(contains(second.err(), "chain continued")) << second.err();

  // Nothing lost; some chain holds records of both instances, in order.
  const auto out = consume_all(trusted);
  const auto rej = consume_all(rejected);
  const Accounting a = account(expected_readings(frames, prod.placements), {&out, &rej});
  EXPECT_EQ(a.missing, 0u);
  EXPECT_EQ(a.undecodable, 0u);
  EXPECT_EQ(rej.size(), 0u);
  std::map<int32_t, std::set<std::string>> writers;
  for (const Message& m : out) writers[m.partition].insert(decode_output(m).instance);
  size_t moved = 0;
  for (const auto& [part, who] : writers) moved += who.size() == 2;
  EXPECT_GE(moved, 1u) << "no chain changed hands: not a hand-over test";

  // The consumer's check, over the topics: every chain, checkpoint and signature.
  const std::vector<std::string> verify{assay_bin(),
                                        "verify-stream",
                                        "--brokers",
                                        bootstrap(),
                                        "--topic",
                                        trusted,
                                        "--attestations-topic",
                                        atts,
                                        "--public-key",
                                        ASSAY_SOURCE_DIR "/examples/testdata/engine.pub"};
  const int rc = run_to_end(verify, dir, "verify", 120s);
  EXPECT_EQ(rc, 0) << read_text(dir / "verify.out") << read_text(dir / "verify.err");
  EXPECT_TRUE(contains(read_text(dir / "verify.out") + read_text(dir / "verify.err"),
                       std::to_string(out.size()) + " records in"))
      << read_text(dir / "verify.out") << read_text(dir / "verify.err");
  std::cout << "[ kafka ] provenance hand-over: " << frames.size() << " input records, "
            << out.size() << " trusted (" << a.duplicates << " duplicates), " << moved << " of "
            << writers.size() << " chains written by both instances\n";
}

}  // namespace
}  // namespace assay::kt
