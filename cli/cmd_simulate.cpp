// `assay simulate`: a fleet of signed sensors with injected faults (sim/simulator.hpp).
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "connectors/compacted_topic.hpp"
#include "engine/log.hpp"
#include "engine/signing_key.hpp"
#include "engine/time.hpp"
#include "sim/frame_sink.hpp"
#include "sim/kafka_frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

int cmd_simulate(int argc, char** argv) {
  Args args("assay simulate --out FILE [options]",
            "Simulates a fleet of sensors, each with its own key (Ed25519, ECDSA P-256 or HMAC-SHA256),\n"
            "writing signed readings (SignedReading, or SignedBatch for some sensors) to a framed record\n"
            "file, plus the identity registry, calibration certificates, the labs' trust list and one\n"
            "label per reading naming the injected fault. Output is identical for the same --seed and\n"
            "--start-time.\n"
            "Faults (--fault NAME=RATE): forged, tampered, replay, unknown_key (per record); spike,\n"
            "clock_skew (per reading); stuck (fraction of readings in runs of 10 equal values); drift,\n"
            "expired_calibration (fractions of sensors). Defaults: 0.002 each, drift and\n"
            "expired_calibration 0.02. Use NAME=0 to switch one off.\n"
            "Remote verification (docs/metrology-cloud.md): with --answer-requests TOPIC (Kafka\n"
            "only) the instruments answer the signed test-case requests on TOPIC at their next\n"
            "reading; --answer-fault NAME=FRACTION makes instruments answer drifted,\n"
            "wrong_firmware, silent, wrong_key or duplicate.\n"
            "Formats (--format, docs/simulator.md): assay (SignedReading/SignedBatch, the default);\n"
            "ocmf (OCMF records of energy meters, every one ECDSA P-256: --alg-mix is refused; the\n"
            "registry's key_id is the meter serial MS; one record per reading or per batch, PG +1 per\n"
            "record, transactions of 10 records); senml-cose (SenML packs in CBOR inside COSE_Sign1 for\n"
            "Ed25519/ES256, COSE_Mac0 for HMAC; kid = the key id; clock_skew is off, as a skewed\n"
            "time is a SenML replay). Same faults and labels in every format.");
  args.option("out", "framed record file to write ('-' = stdout)")
      .option("format", "record format: assay, ocmf or senml-cose", "assay")
      .option("brokers", "write to Kafka instead of a file: bootstrap servers (with --topic)")
      .option("topic", "Kafka topic to write to (with --brokers); key = sensor_id")
      .multi("kafka-property", "NAME=VALUE librdkafka property for --brokers (e.g. security.protocol=ssl)")
      .option("sensors", "number of sensors", "100")
      .option("records", "new readings in total (replayed records come on top)", "100000")
      .option("registry-out", "identity registry (YAML)", "sensors.yaml")
      .option("certs-out", "calibration certificates (YAML)", "certificates.yaml")
      .option("labs-out", "calibration labs trust list (YAML)", "labs.yaml")
      .option("labels-out", "one JSON line per reading with its fault label", "labels.jsonl")
      .option("keys-dir", "directory for HMAC secret files (default: keys/ beside the registry)")
      .option("seed", "random seed", "1")
      .option("rate", "readings per second of wall time (0 = as fast as possible)", "0")
      .option("alg-mix", "fractions of sensors per signature algorithm", "ed25519=0.5,ecdsa=0.3,hmac=0.2")
      .option("batch-fraction", "fraction of sensors sending SignedBatch", "0.2")
      .option("batch-size", "readings per SignedBatch", "8")
      .option("start-time", "RFC 3339 time of the first reading (default: now minus the simulated duration)")
      .option("interval-ms", "per-sensor reading period in simulated time", "1000")
      .option("threads", "signing threads (0 = all cores)", "0")
      .multi("fault", "NAME=RATE fault injection")
      .multi("answer-requests", "Kafka command topic of verification requests to answer")
      .option("engine-public-key", "the engine key requests must be signed with (hex, file or PEM)")
      .multi("answer-fault", "NAME=FRACTION of instruments answering drifted, wrong_firmware, silent, wrong_key, duplicate")
      .option("answer-drift-sigma", "error of a drifted answer in standard uncertainties", "40")
      .option("answers-out", "one JSON line per instrument with its answer behaviour");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;

  auto usage_error = [&](const std::string& msg) {
    std::fprintf(stderr, "error: %s\n\n%s", msg.c_str(), args.help().c_str());
    return kExitUsage;
  };
  sim::SimConfig c;
  const std::string out = args.get("out");
  const bool to_kafka = args.has("brokers") || args.has("topic");
  if (to_kafka && (!args.has("brokers") || !args.has("topic")))
    return usage_error("--brokers and --topic go together");
  if (to_kafka && !out.empty()) return usage_error("give either --out or --brokers/--topic");
  if (!to_kafka && out.empty()) return usage_error("--out (or --brokers and --topic) is required");
  std::map<std::string, std::string> kafka_props;
  for (const std::string& kv : args.all("kafka-property")) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return usage_error("--kafka-property wants NAME=VALUE");
    kafka_props[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  long long sensors = 0, records = 0, seed = 0, batch_size = 0, interval = 0, threads = 0;
  double rate = 0, batch_fraction = 0;
  if (!args.get_int("sensors", sensors) || !args.get_int("records", records) || !args.get_int("seed", seed) ||
      !args.get_int("batch-size", batch_size) || !args.get_int("interval-ms", interval) ||
      !args.get_int("threads", threads) || !args.get_double("rate", rate) ||
      !args.get_double("batch-fraction", batch_fraction))
    return usage_error(args.error());
  if (sensors < 1 || sensors > 10'000'000) return usage_error("--sensors must be in 1..10000000");
  if (records < 1) return usage_error("--records must be at least 1");
  if (seed < 0) return usage_error("--seed must be >= 0");
  if (batch_size < 1 || batch_size > 65536) return usage_error("--batch-size must be in 1..65536");
  if (threads < 0 || threads > 1024) return usage_error("--threads must be in 0..1024");
  c.sensors = static_cast<uint32_t>(sensors);
  c.records = static_cast<uint64_t>(records);
  c.seed = static_cast<uint64_t>(seed);
  c.batch_size = static_cast<uint32_t>(batch_size);
  c.interval_ms = interval;
  c.threads = static_cast<unsigned>(threads);
  c.rate = rate;
  c.batch_fraction = batch_fraction;
  std::string error;
  if (!sim::parse_sim_format(args.get("format"), c.format, error)) return usage_error(error);
  if (c.format == sim::SimFormat::kOcmf && args.has("alg-mix"))
    return usage_error("--alg-mix does not apply to --format ocmf (every meter signs with ECDSA P-256)");
  if (!sim::parse_alg_mix(args.get("alg-mix"), c.alg_mix, error)) return usage_error(error);
  // SenML times must strictly increase per sensor: clock_skew is off unless asked for (and then
  // refused by validate()).
  if (c.format == sim::SimFormat::kSenmlCose) c.faults[sim::Fault::kClockSkew] = 0;
  for (const auto& f : args.all("fault"))
    if (!sim::parse_fault(f, c.faults, error)) return usage_error(error);
  if (args.has("start-time")) {
    const ParsedTime t = parse_time(args.get("start-time"), TimeBound::kInstant);
    if (!t.ns) return usage_error("--start-time: " + t.error);
    c.start_time_ns = *t.ns;
  }
  c.registry_path = args.get("registry-out");
  c.certs_path = args.get("certs-out");
  c.labs_path = args.get("labs-out");
  c.labels_path = args.get("labels-out");
  c.keys_dir = args.get("keys-dir");
  if (!sim::validate(c, error)) return usage_error(error);
  const std::vector<std::string> answer_topics = args.all("answer-requests");
  if (!answer_topics.empty()) {
    if (!to_kafka) return usage_error("--answer-requests needs --brokers (requests come from Kafka)");
    std::array<uint8_t, 32> pub{};
    if (!args.has("engine-public-key"))
      return usage_error("--answer-requests needs --engine-public-key");
    if (!parse_engine_public_key(args.get("engine-public-key"), &pub, &error)) return usage_error(error);
    c.responder = std::make_shared<sim::Responder>(pub);
    for (const auto& f : args.all("answer-fault"))
      if (!sim::parse_answer_rate(f, c.answer_rates, error)) return usage_error(error);
    if (!args.get_double("answer-drift-sigma", c.answer_drift_sigma) || !(c.answer_drift_sigma >= 0))
      return usage_error("--answer-drift-sigma must be a number >= 0");
    c.answers_path = args.get("answers-out");
  } else if (!args.all("answer-fault").empty() || args.has("answers-out")) {
    return usage_error("--answer-fault and --answers-out need --answer-requests");
  }
  // The gateway: follows each command topic and hands every request to the responder.
  std::vector<std::unique_ptr<connectors::CompactedTopicFollower>> followers;
  for (const std::string& topic : answer_topics) {
    connectors::KafkaClientSettings ks;
    ks.brokers = args.get("brokers");
    ks.properties = kafka_props;
    auto responder = c.responder;
    auto f = std::make_unique<connectors::CompactedTopicFollower>(
        ks, topic,
        [responder, topic](std::string_view, std::optional<std::string_view> value, const std::string& where) {
          if (!value) return;
          std::string why;
          if (!responder->deliver({reinterpret_cast<const uint8_t*>(value->data()), value->size()},
                                  now_ns(), &why))
            log_warn("sim", "verification request refused", {{"at", where}, {"reason", why}});
        },
        [] {});
    if (!f->start(&error)) {
      std::fprintf(stderr, "assay simulate: --answer-requests %s: %s\n", topic.c_str(), error.c_str());
      return kExitFailure;
    }
    followers.push_back(std::move(f));
  }

  sim::FileFrameSink file_sink;
  sim::KafkaFrameSink kafka_sink;
  sim::FrameSink& sink = to_kafka ? static_cast<sim::FrameSink&>(kafka_sink) : file_sink;
  const bool opened = to_kafka ? kafka_sink.open(args.get("brokers"), args.get("topic"), kafka_props)
                               : file_sink.open(out);
  if (!opened) {
    std::fprintf(stderr, "assay simulate: %s\n", sink.error().c_str());
    return kExitFailure;
  }
  sim::SimSummary summary;
  const bool ok = sim::run_simulation(c, sink, summary, error);
  const bool closed = to_kafka ? kafka_sink.flush() : file_sink.close();
  if (!ok || !closed) {
    std::fprintf(stderr, "assay simulate: %s\n",
                 ok ? (to_kafka ? kafka_sink.error().c_str() : "cannot close the output file") : error.c_str());
    return kExitFailure;
  }
  for (auto& f : followers) f->stop();
  std::fputs(sim::format_summary(summary).c_str(), stderr);
  if (c.responder)
    std::fprintf(stderr, "  verification requests: %llu answered or queued, %llu refused\n",
                 static_cast<unsigned long long>(c.responder->accepted()),
                 static_cast<unsigned long long>(c.responder->refused()));
  const double per_s = summary.wall_seconds > 0 ? static_cast<double>(summary.readings) / summary.wall_seconds : 0;
  auto count = [&](sim::Fault f) { return std::to_string(summary.fault_readings[static_cast<size_t>(f)]); };
  log_info("sim", "simulation finished",
           {{"out", to_kafka ? "kafka:" + args.get("topic") : out},
            {"seed", std::to_string(c.seed)},
            {"sensors", std::to_string(c.sensors)},
            {"readings", std::to_string(summary.readings)},
            {"frames", std::to_string(summary.frames)},
            {"signed_batches", std::to_string(summary.signed_batches)},
            {"readings_per_s", std::to_string(static_cast<long long>(per_s))},
            {"cpu_seconds", std::to_string(summary.cpu_seconds)},
            {"forged", count(sim::Fault::kForged)},
            {"tampered", count(sim::Fault::kTampered)},
            {"replay", count(sim::Fault::kReplay)},
            {"unknown_key", count(sim::Fault::kUnknownKey)},
            {"drift", count(sim::Fault::kDrift)},
            {"spike", count(sim::Fault::kSpike)},
            {"stuck", count(sim::Fault::kStuck)},
            {"clock_skew", count(sim::Fault::kClockSkew)},
            {"expired_calibration", count(sim::Fault::kExpiredCalibration)}});
  return kExitOk;
}

}  // namespace assay::cli
