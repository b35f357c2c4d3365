// `assay demo`: the main job of the README. Starts the embedded Kafka cluster, simulates a
// fleet of signed sensors with injected faults into it, and streams it through the example
// pipeline with a live progress line; ends by itself with a summary (or on Ctrl-C).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <atomic>
#include <chrono>
#include <thread>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"
#include "sim/kafka_frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine
namespace {

// The embedded (mock) cluster keeps only a few MB per partition and drops the oldest
// records beyond that, so the simulator must not run ahead of the pipeline: it waits while
// more than `max_ahead` records are produced but not yet consumed.
class PacedSink final : public sim::FrameSink {
 public:
  PacedSink(sim::FrameSink& inner, uint64_t max_ahead) : inner_(inner), max_ahead_(max_ahead) {}
  bool write(std::span<const uint8_t> frame, std::string_view key) override {
    while (!give_up_.load()) {
      const RunStats* s = stats_.load();
      const uint64_t consumed = s != nullptr ? s->frames_in.load() : 0;
      if (written_ < consumed + max_ahead_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ++written_;
    return inner_.write(frame, key);
  }
  bool flush() override { return inner_.flush(); }
  std::string error() const override { return inner_.error(); }
  /// Starts pacing against the running pipeline's counters.
  void follow(const RunStats* stats) { stats_.store(stats); }
  /// Stops waiting (the pipeline ended).
  void give_up() { give_up_.store(true); }

 private:
  sim::FrameSink& inner_;
  const uint64_t max_ahead_;
  uint64_t written_ = 0;
  std::atomic<const RunStats*> stats_{nullptr};
  std::atomic<bool> give_up_{false};
};

}  // namespace

int cmd_demo(int argc, char** argv) {
  Args args("assay demo [options]",
            "Runs the demo on the embedded Kafka cluster (no broker needed): simulates a fleet of\n"
            "signed sensors with injected faults into topic sensors.raw and streams it through\n"
            "the example pipeline (trusted, rejected and alerts topics). Ends by itself with a\n"
            "summary a few seconds after the fleet is done, or on Ctrl-C.");
  args.option("pipeline", "pipeline file", "examples/demo.yaml")
      .option("dir", "directory for the registry, certificates and labels", "demo")
      .option("sensors", "number of sensors", "500")
      .option("records", "readings to simulate", "500000")
      .option("rate", "readings per second (0 = as fast as possible)", "0")
      .option("seed", "random seed", "1")
      .flag("no-progress", "do not print the live progress line");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  long long sensors = 0, records = 0, seed = 0;
  double rate = 0;
  if (!args.get_int("sensors", sensors) || !args.get_int("records", records) ||
      !args.get_int("seed", seed) || !args.get_double("rate", rate) || sensors < 1 || records < 1 ||
      rate < 0) {
    std::fprintf(stderr, "error: %s\n", args.error().empty() ? "bad numbers" : args.error().c_str());
    return kExitUsage;
  }
  namespace fs = std::filesystem;
  const fs::path dir = fs::absolute(args.get("dir"));
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::setenv("ASSAY_DEMO_DIR", dir.c_str(), 1);

  sim::SimConfig c;
  c.sensors = static_cast<uint32_t>(sensors);
  c.records = static_cast<uint64_t>(records);
  c.seed = static_cast<uint64_t>(seed);
  c.rate = rate;
  c.registry_path = (dir / "sensors.yaml").string();
  c.certs_path = (dir / "certificates.yaml").string();
  c.labs_path = (dir / "labs.yaml").string();
  c.labels_path = (dir / "labels.jsonl").string();
  std::promise<void> side_files;
  c.on_side_files_written = [&side_files] { side_files.set_value(); };

  sim::KafkaFrameSink sink;
  if (!sink.open("embedded", "sensors.raw")) {
    std::fprintf(stderr, "error: %s\n", sink.error().c_str());
    return kExitFailure;
  }
  PacedSink paced(sink, 20000);
  sim::SimSummary sim_summary;
  std::string sim_error;
  std::atomic<bool> sim_ok{false};
  auto side_ready = side_files.get_future();
  std::thread simulator([&] {
    sim_ok = sim::run_simulation(c, paced, sim_summary, sim_error) && sink.flush();
    if (!sim_ok) {
      log_error("demo", "simulation failed", {{"error", sim_error.empty() ? sink.error() : sim_error}});
      try {
        side_files.set_value();  // unblock the main thread if setup itself failed
      } catch (const std::future_error&) {
      }
    }
  });
  side_ready.wait();
  log_info("demo", "fleet registry written; starting the pipeline",
           {{"dir", dir.string()}, {"sensors", std::to_string(sensors)}, {"readings", std::to_string(records)}});

  Registries reg = builtin_registries();
  Metrics metrics;
  std::unique_ptr<Pipeline> p;
  try {
    p = load_pipeline(args.get("pipeline"), reg, metrics);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    simulator.detach();
    std::_Exit(kExitUsage);  // CLI only: the simulator thread cannot be interrupted
  }
  RunOptions opts;
  opts.progress = !args.has("no-progress");
  opts.on_start = [&paced](const Runner& runner) { paced.follow(&runner.stats()); };
  RunSummary summary;
  const int rc = run_pipeline(std::move(p), metrics, opts, summary);
  paced.give_up();
  if (interrupted()) {
    std::fflush(stdout);
    simulator.detach();
    std::_Exit(130);
  }
  simulator.join();
  std::fputs(("\n" + sim::format_summary(sim_summary)).c_str(), stdout);
  std::printf("\nOutputs are in the embedded cluster's topics sensors.trusted, sensors.rejected and\n"
              "sensors.alerts (gone when the demo ends); labels of the injected faults: %s\n",
              c.labels_path.c_str());
  if (!sim_ok) return kExitFailure;
  return rc;
}

}  // namespace assay::cli
