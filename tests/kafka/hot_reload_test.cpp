// Hot reload (issue 7) of a running `assay run` on the real broker: a changed pipeline file is
// picked up and replaces the running pipeline without losing a record; an invalid one is refused
// with its location while the old pipeline keeps going; SIGHUP triggers a reload; counters in
// /metrics say what happened.
#include <csignal>

#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

// Value of one exact series (`name{labels}` as exposed) in a /metrics page; -1 if absent.
double series(const std::string& page, const std::string& name_and_labels) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name_and_labels + " ", 0) == 0)
      return std::strtod(line.c_str() + name_and_labels.size() + 1, nullptr);
  return -1;
}

void write_atomically(const fs::path& p, const std::string& text) {
  // Like a Kubernetes ConfigMap update: the new content appears in one step.
  write_text(p.string() + ".new", text);
  fs::rename(p.string() + ".new", p);
}

TEST(KafkaHotReload, ChangedConfigIsReloadedInvalidOneRefusedNothingLost) {
  ASSAY_REQUIRE_BROKER();
  const Fleet fleet = simulated_fleet(
      "reload", {"--records", "3000", "--sensors", "40", "--seed", "5", "--alg-mix", "hmac=1"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 30u);
  const size_t third = frames.size() / 3;
  auto readings = [&](size_t from, size_t to) {
    uint64_t n = 0;
    for (size_t i = from; i < to; ++i) n += readings_in_frame(frames[i]);
    return n;
  };

  const fs::path dir = work_dir("reload");
  PipelineSpec spec;
  spec.name = "reload-v1";
  spec.brokers = bootstrap();
  spec.input = unique_name("reload-in");
  spec.group = unique_name("reload-group");
  spec.trusted = unique_name("reload-trusted");
  spec.rejected = unique_name("reload-rejected");
  spec.registry = fleet.registry().string();
  spec.idle_timeout_ms = 0;  // runs until SIGTERM
  spec.metrics_port = free_port();
  create_topic(spec.input, 2);
  create_topic(spec.trusted, 1);
  create_topic(spec.rejected, 1);
  const fs::path file = dir / "pipeline.yaml";
  // The audit log (WELMEC 7.2 event log) records every load and reload, signed by the engine key.
  ASSERT_EQ(
      run_to_end({assay_bin(), "keygen", "--alg", "ed25519", "--out", (dir / "engine").string()},
                 dir, "keygen", 60s),
      0);
  const std::string audit = "audit:\n  file: audit.log\n  key: engine.key\n";
  auto yaml = [&] { return pipeline_yaml(spec) + audit; };
  write_text(file, yaml());

  Producer prod(spec.input);
  // Readings accounted for: one trusted record per reading; a rejected record may stand for
  // several readings of one input (reading_indexes).
  auto outputs = [&] {
    return sum(end_offsets(spec.trusted)) +
           static_cast<int64_t>(readings_of(consume_all(spec.rejected)));
  };
  auto metrics = [&] { return http_get(spec.metrics_port, "/metrics"); };

  Child run({assay_bin(), "run", file.string(), "--no-progress", "--watch-interval-ms", "200",
             "--summary-json", (dir / "summary.json").string()},
            dir / "run.out", dir / "run.err");
  ASSERT_TRUE(run.started());
  prod.produce(frames, 0, third);
  ASSERT_TRUE(prod.flush());
  ASSERT_TRUE(
      wait_until([&] { return outputs() >= static_cast<int64_t>(readings(0, third)); }, 120s))
      << run.err();
  EXPECT_EQ(series(metrics(), "assay_config_reloads_total{result=\"success\"}"), 0);

  // 1. A changed file is reloaded.
  spec.name = "reload-v2";
  write_atomically(file, yaml());
  ASSERT_TRUE(wait_until(
      [&] { return series(metrics(), "assay_config_reloads_total{result=\"success\"}") == 1; },
      60s))
      << run.err();
  EXPECT_NE(metrics().find("assay_config_info{config_sha256="), std::string::npos);
  EXPECT_NE(metrics().find("pipeline=\"reload-v2\"} 1"), std::string::npos);
  prod.produce(frames, third, third);
  ASSERT_TRUE(prod.flush());
  ASSERT_TRUE(
      wait_until([&] { return outputs() >= static_cast<int64_t>(readings(0, 2 * third)); }, 120s))
      << run.err();

  // 2. An invalid file is refused with its location; the running pipeline keeps going.
  write_atomically(file, yaml() + "operatorz: []\n");
  ASSERT_TRUE(wait_until(
      [&] { return series(metrics(), "assay_config_reloads_total{result=\"failure\"}") == 1; },
      60s))
      << run.err();
  EXPECT_EQ(series(metrics(), "assay_config_last_reload_successful"), 0);
  EXPECT_TRUE(run.running());
  const std::string err = run.err();
  EXPECT_NE(err.find("reload refused"), std::string::npos) << err;
  EXPECT_NE(err.find("pipeline.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("operatorz"), std::string::npos) << err;
  prod.produce(frames, 2 * third, frames.size() - 2 * third);
  ASSERT_TRUE(prod.flush());
  ASSERT_TRUE(wait_until(
      [&] { return outputs() >= static_cast<int64_t>(readings(0, frames.size())); }, 120s))
      << run.err();

  // 3. SIGHUP reloads on demand (the file is still invalid: refused again, still running).
  run.signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] { return series(metrics(), "assay_config_reloads_total{result=\"failure\"}") == 2; },
      30s))
      << run.err();
  EXPECT_TRUE(run.running());
  // ... a valid file again is reloaded by the watcher (written atomically: a watcher that read
  // a half-written file would refuse it), and SIGHUP then reloads even without a change of
  // content.
  spec.name = "reload-v3";
  write_atomically(file, yaml());
  ASSERT_TRUE(wait_until(
      [&] { return series(metrics(), "assay_config_reloads_total{result=\"success\"}") == 2; },
      60s))
      << run.err();
  run.signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] { return series(metrics(), "assay_config_reloads_total{result=\"success\"}") == 3; },
      60s))
      << run.err();
  EXPECT_EQ(series(metrics(), "assay_config_last_reload_successful"), 1);

  run.signal(SIGTERM);
  const auto rc = run.wait_for(60s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << run.err();

  // Every input reading came out (duplicates across a reload are allowed), and the records
  // carry the name of the pipeline generation that processed them.
  const auto trusted = consume_all(spec.trusted);
  const auto rejected = consume_all(spec.rejected);
  const Accounting a = account(expected_readings(frames, prod.placements), {&trusted, &rejected});
  EXPECT_EQ(a.missing, 0u);
  EXPECT_EQ(a.undecodable, 0u);
  EXPECT_EQ(a.unknown, 0u);
  std::map<std::string, uint64_t> by_pipeline;
  for (const auto* msgs : {&trusted, &rejected})
    for (const Message& m : *msgs)
      by_pipeline[m.headers.count("assay-pipeline") ? m.headers.at("assay-pipeline") : ""] +=
          decode_output(m).readings.size();  // readings, as a rejected record may stand for several
  EXPECT_GE(by_pipeline["reload-v1"], readings(0, third));
  EXPECT_GE(by_pipeline["reload-v2"], readings(third, frames.size()));
  EXPECT_EQ(by_pipeline.size(), 2u);
  // The audit log verifies and tells the story: start, load, reload, two refused reloads,
  // two reloads, stop.
  ASSERT_EQ(run_to_end({assay_bin(), "verify-audit", (dir / "audit.log").string(), "--public-key",
                        (dir / "engine.pub").string()},
                       dir, "verify-audit", 60s),
            0)
      << read_text(dir / "verify-audit.out") << read_text(dir / "verify-audit.err");
  const std::string events = read_text(dir / "verify-audit.out");
  std::vector<std::string> types;
  for (const char* t :
       {"engine.start", "config.load", "config.reload_failed", "config.reload", "engine.stop"}) {
    size_t n = 0;
    for (size_t at = events.find(std::string(t) + " "); at != std::string::npos;
         at = events.find(std::string(t) + " ", at + 1))
      ++n;
    types.push_back(std::string(t) + "=" + std::to_string(n));
  }
  EXPECT_EQ(types,
            (std::vector<std::string>{"engine.start=1", "config.load=4", "config.reload_failed=2",
                                      "config.reload=3", "engine.stop=1"}))
      << events;
  const std::string summary = read_text(dir / "summary.json");
  EXPECT_GE(json_int(summary, "readings_in"), static_cast<int64_t>(readings(0, frames.size())));
}

}  // namespace
}  // namespace assay::kt
