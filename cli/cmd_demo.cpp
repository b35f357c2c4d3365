// `assay demo`: the main job of the README. Starts the embedded Kafka cluster, simulates a
// fleet of signed sensors with injected faults into it, and streams it through the example
// pipeline with a live progress line; ends by itself with a summary (or on Ctrl-C).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "connectors/compacted_topic.hpp"
#include "engine/log.hpp"
#include "engine/signing_key.hpp"
#include "engine/time.hpp"
#include "metrology/campaign.hpp"
#include "metrology/register.hpp"
#include "registries/identity_registry.hpp"
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

// The demo's verification plan (docs/metrology-cloud.md): one group and command topic per
// quantity, a few instruments of each answer behaviour of the fleet (answers.jsonl) and honest
// ones, reference values inside every simulated instrument's range.
bool write_demo_plan(const std::filesystem::path& dir, std::vector<std::string>* topics,
                     std::string* error) {
  static const std::map<std::string, std::string> cases = {
      {"temperature",
       "[{id: tc-20, reference_value: 20, mpe: 2.0, stimulus: bath 20 Cel}, "
       "{id: tc-60, reference_value: 60, mpe: {absolute: 1.5, relative: 0.01}}]"},
      {"pressure", "[{id: tc-atm, reference_value: 101325, mpe: 200}]"},
      {"mass", "[{id: tc-10kg, reference_value: 10, mpe: 0.05}]"},
      {"voltage", "[{id: tc-230, reference_value: 230, mpe: 2.0}]"}};
  registries::RegistryLoadReport report;
  std::shared_ptr<const registries::IdentityRegistry> reg;
  try {
    reg = registries::load_identity_registry((dir / "sensors.yaml").string(), report);
  } catch (const ConfigError& e) {
    *error = e.what();
    return false;
  }
  std::map<std::string, std::vector<std::string>> groups;  // quantity -> instruments
  std::map<std::string, int> taken;                        // answer -> instruments chosen
  std::ifstream in(dir / "answers.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto id_at = line.find("\"sensor_id\":\"") + 13;
    const std::string id = line.substr(id_at, line.find('"', id_at) - id_at);
    const auto ans_at = line.find("\"answer\":\"") + 10;
    const std::string answer = line.substr(ans_at, line.find('"', ans_at) - ans_at);
    const registries::SensorInfo* s = reg->find_sensor(id);
    if (s == nullptr || cases.count(s->quantity) == 0) continue;
    if (taken[answer] >= (answer == "honest" ? 12 : 2)) continue;
    taken[answer]++;
    groups[s->quantity].push_back(id);
  }
  std::string plan =
      "# Written by `assay demo`: remote verification of a few instruments of the fleet.\n"
      "plan: {id: demo-verification, title: Remote verification (demo), authority: market "
      "surveillance, decision_rule: guarded}\ngroups:\n";
  topics->clear();
  for (const auto& [q, ids] : groups) {
    const std::string topic = "sensors.verification." + q;
    topics->push_back(topic);
    plan += "  - id: " + q + "\n    command_topic: " + topic + "\n    instruments:\n";
    for (const auto& id : ids) plan += "      - \"" + id + "\"\n";
    plan += "    cases: " + cases.at(q) + "\n";
  }
  plan += "schedule: {start: now, start_delay_ms: 3000, response_timeout_ms: 10000}\n";
  std::ofstream out(dir / "plan.yaml");
  out << plan;
  if (!out) *error = "cannot write " + (dir / "plan.yaml").string();
  return static_cast<bool>(out);
}

}  // namespace

int cmd_demo(int argc, char** argv) {
  Args args("assay demo [options]",
            "Runs the demo on the embedded Kafka cluster (no broker needed): simulates a fleet of\n"
            "signed sensors with injected faults into topic sensors.raw and streams it through\n"
            "the example pipeline (trusted, rejected and alerts topics). Ends by itself with a\n"
            "summary a few seconds after the fleet is done, or on Ctrl-C.");
  args.option("pipeline",
              "pipeline file (default: examples/demo.yaml; with --format ocmf\n"
              "examples/ocmf-charging.yaml, with --format senml-cose examples/senml-cose.yaml)",
              "")
      .option("format",
              "record format the fleet sends: assay, ocmf (EV chargers' meters) or\n"
              "senml-cose (SenML packs signed with COSE)",
              "assay")
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
    std::fprintf(stderr, "error: %s\n",
                 args.error().empty() ? "bad numbers" : args.error().c_str());
    return kExitUsage;
  }
  sim::SimFormat format = sim::SimFormat::kAssay;
  {
    std::string err;
    if (!sim::parse_sim_format(args.get("format"), format, err)) {
      std::fprintf(stderr, "error: %s\n", err.c_str());
      return kExitUsage;
    }
  }
  const bool own_format = format == sim::SimFormat::kAssay;
  std::string pipeline_file = args.get("pipeline");
  if (pipeline_file.empty())
    pipeline_file = own_format                        ? "examples/demo.yaml"
                    : format == sim::SimFormat::kOcmf ? "examples/ocmf-charging.yaml"
                                                      : "examples/senml-cose.yaml";
  // The instrument-format examples read these: the embedded cluster, an end once the fleet is
  // quiet, and the registry the simulator writes.
  const std::string raw_topic = own_format                        ? "sensors.raw"
                                : format == sim::SimFormat::kOcmf ? "chargers.ocmf"
                                                                  : "sensors.senml";
  namespace fs = std::filesystem;
  const fs::path dir = fs::absolute(args.get("dir"));
  if (!own_format) {
    ::setenv("ASSAY_BROKERS", "embedded", 1);
    ::setenv("ASSAY_IDLE_TIMEOUT_MS", "4000", 1);
    ::setenv("ASSAY_OCMF_DIR", dir.c_str(), 1);
    ::setenv("ASSAY_SENML_DIR", dir.c_str(), 1);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::setenv("ASSAY_DEMO_DIR", dir.c_str(), 1);
  fs::create_directories(dir / "out", ec);
  ::setenv("ASSAY_OUT_DIR", (dir / "out").c_str(), 1);
  // The engine key: signs the audit log, the verification requests and the results.
  if (own_format && !fs::exists(dir / "engine.key")) {
    const std::string prefix = (dir / "engine").string();
    std::vector<std::string> kg = {"keygen", "--alg", "ed25519", "--out", prefix};
    std::vector<char*> kargv;
    for (auto& s : kg) kargv.push_back(s.data());
    if (cmd_keygen(static_cast<int>(kargv.size()), kargv.data()) != kExitOk) return kExitFailure;
  }
  std::shared_ptr<const EngineKey> engine_key;
  try {
    if (own_format) engine_key = EngineKey::load((dir / "engine.key").string());
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitFailure;
  }

  sim::SimConfig c;
  c.sensors = static_cast<uint32_t>(sensors);
  c.records = static_cast<uint64_t>(records);
  c.seed = static_cast<uint64_t>(seed);
  c.rate = rate;
  c.format = format;
  c.registry_path =
      (dir / (format == sim::SimFormat::kOcmf ? "ocmf-meters.yaml" : "sensors.yaml")).string();
  if (format == sim::SimFormat::kSenmlCose)
    c.faults[sim::Fault::kClockSkew] = 0;  // not expressible
  c.certs_path = (dir / "certificates.yaml").string();
  c.labs_path = (dir / "labs.yaml").string();
  c.labels_path = (dir / "labels.jsonl").string();
  // Remote verification: the simulated instruments answer the requests on the command topics;
  // a few answer drifted, with unapproved firmware, not at all, or signed with another key.
  if (own_format) c.responder = std::make_shared<sim::Responder>(engine_key->public_key());
  for (const char* a : {"drifted=0.02", "wrong_firmware=0.01", "silent=0.01", "wrong_key=0.01"}) {
    std::string err;
    sim::parse_answer_rate(a, c.answer_rates, err);
  }
  c.answer_drift_sigma = 200;
  if (own_format) c.answers_path = (dir / "answers.jsonl").string();
  std::vector<std::unique_ptr<connectors::CompactedTopicFollower>> gateways;
  std::promise<void> side_files;
  c.on_side_files_written = [&] {
    std::vector<std::string> topics;
    std::string err;
    if (own_format && !write_demo_plan(dir, &topics, &err))
      log_error("demo", "cannot write the plan", {{"error", err}});
    for (const std::string& t : topics) {
      connectors::KafkaClientSettings ks;
      ks.brokers = "embedded";
      ks.embedded_partitions = 1;
      auto responder = c.responder;
      auto f = std::make_unique<connectors::CompactedTopicFollower>(
          ks, t,
          [responder](std::string_view, std::optional<std::string_view> v, const std::string&) {
            if (v)
              responder->deliver({reinterpret_cast<const uint8_t*>(v->data()), v->size()},
                                 now_ns());
          },
          [] {});
      if (!f->start(&err))
        log_error("demo", "cannot follow a command topic", {{"topic", t}, {"error", err}});
      gateways.push_back(std::move(f));
    }
    side_files.set_value();
  };

  sim::KafkaFrameSink sink;
  if (!sink.open("embedded", raw_topic)) {
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
      log_error("demo", "simulation failed",
                {{"error", sim_error.empty() ? sink.error() : sim_error}});
      try {
        side_files.set_value();  // unblock the main thread if setup itself failed
      } catch (const std::future_error&) {
      }
    }
  });
  side_ready.wait();
  log_info("demo", "fleet registry written; starting the pipeline",
           {{"dir", dir.string()},
            {"sensors", std::to_string(sensors)},
            {"readings", std::to_string(records)}});

  Registries reg = builtin_registries();
  Metrics metrics;
  std::unique_ptr<Pipeline> p;
  try {
    p = load_pipeline(pipeline_file, reg, metrics);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    simulator.detach();
    std::_Exit(kExitUsage);  // CLI only: the simulator thread cannot be interrupted
  }
  RunOptions opts;
  opts.progress = !args.has("no-progress");
  opts.on_start = [&paced](const Runner& runner) { paced.follow(&runner.stats()); };
  opts.on_finish = [](const Pipeline& p) {
    for (const auto& campaigns : p.services.all<metrology::CampaignService>()) {
      const metrology::CampaignStats s = campaigns->stats();
      std::printf("\n== remote verification: plan '%s' ==\n", campaigns->plan().id.c_str());
      std::printf("  campaigns %llu, requests %llu, responses accepted %llu, refused %llu\n",
                  static_cast<unsigned long long>(s.campaigns),
                  static_cast<unsigned long long>(s.requests),
                  static_cast<unsigned long long>(s.responses_accepted),
                  static_cast<unsigned long long>(s.responses_refused));
      std::printf(
          "  e-verification results: passed %llu, failed %llu, indeterminate %llu, no response "
          "%llu\n",
          static_cast<unsigned long long>(s.passed), static_cast<unsigned long long>(s.failed),
          static_cast<unsigned long long>(s.indeterminate),
          static_cast<unsigned long long>(s.no_response));
    }
    for (const auto& reg : p.services.all<metrology::InstrumentRegister>())
      std::printf("\n== instrument register ==\n%s", reg->summary_text(now_ns()).c_str());
  };
  RunSummary summary;
  const int rc = run_pipeline(std::move(p), metrics, opts, summary);
  paced.give_up();
  if (interrupted()) {
    std::fflush(stdout);
    simulator.detach();
    std::_Exit(130);
  }
  simulator.join();
  for (auto& g : gateways) g->stop();
  std::fputs(("\n" + sim::format_summary(sim_summary)).c_str(), stdout);
  if (!own_format) {
    std::printf(
        "\nOutputs are in the embedded cluster's topics of %s (gone when the demo ends);\n"
        "labels of the injected faults: %s\n",
        pipeline_file.c_str(), c.labels_path.c_str());
    return sim_ok ? rc : kExitFailure;
  }
  std::printf(
      "\nOutputs are in the embedded cluster's topics sensors.trusted, sensors.rejected,\n"
      "sensors.alerts and sensors.verifications (gone when the demo ends); labels of the\n"
      "injected faults: %s; the verification plan: %s; how each instrument answers: %s;\n"
      "the audit log (check it with assay verify-audit): %s; the register snapshot: %s\n",
      c.labels_path.c_str(), (dir / "plan.yaml").c_str(), c.answers_path.c_str(),
      (dir / "out" / "demo-audit.log").c_str(), (dir / "out" / "register.jsonl").c_str());
  if (!sim_ok) return kExitFailure;
  return rc;
}

}  // namespace assay::cli
