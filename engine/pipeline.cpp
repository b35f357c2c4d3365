#include "engine/pipeline.hpp"

#include "engine/bytes.hpp"

#include <unistd.h>

#include <filesystem>
#include <map>

#include <fstream>
#include <sstream>

namespace assay::engine {

namespace {

// A pipeline file is a few kilobytes; anything beyond this is a mistake (or /dev/zero).
constexpr size_t kMaxPipelineFileBytes = 16 << 20;

std::string default_instance_id() {
  if (const char* env = std::getenv("ASSAY_INSTANCE_ID"); env != nullptr && *env != '\0') return env;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return std::string(host) + "-" + std::to_string(getpid());
}

// `audit: {file, key, key_id, topic, kafka, fsync}`.
std::shared_ptr<AuditLog> build_audit(const ConfigNode& a, const PipelineInfo& info,
                                      const Registries& reg, BuildContext& ctx) {
  AuditOptions opts;
  opts.file = a.get("file").as_path();
  opts.pipeline_name = info.name;
  opts.instance_id = info.instance_id;
  opts.fsync = a.get_bool("fsync", true);
  const ConfigNode key = a.get("key");
  std::shared_ptr<const EngineKey> engine_key;
  try {
    engine_key = EngineKey::load(key.as_path(), a.get_string("key_id", ""));
  } catch (const ConfigError& e) {
    key.fail(e.message());
  }
  std::unique_ptr<AuditPublisher> publisher;
  const auto topic = a.maybe("topic");
  const auto kafka = a.maybe("kafka");
  if (topic.has_value() != kafka.has_value())
    (topic ? *topic : *kafka).fail("audit.topic and audit.kafka go together");
  if (topic) {
    if (!reg.audit_publisher) topic->fail("no audit publisher is available in this build");
    if (topic->as_string().empty()) topic->fail("must name the audit topic");
    publisher = reg.audit_publisher(*kafka, topic->as_string(), ctx);
    kafka->finish();
  }
  a.finish();
  return std::make_shared<AuditLog>(std::move(opts), std::move(engine_key), std::move(publisher),
                                    &ctx.metrics);
}

// Two outputs on one file lose records (the later truncates the earlier), and an output on
// the input file truncates the input: both are refused, after resolving the paths (symbolic
// links, `..`, relative paths).
void check_file_collisions(const Pipeline& p, const ConfigNode& input, const ConfigNode& routes) {
  auto canonical = [](const std::string& f) {
    std::error_code ec;
    auto c = std::filesystem::weakly_canonical(std::filesystem::absolute(f), ec);
    return ec ? f : c.string();
  };
  std::map<std::string, std::string> owner;  // canonical file -> who uses it
  for (const auto& f : p.source->files()) owner.emplace(canonical(f), "the input");
  if (p.info.audit) owner.emplace(canonical(p.info.audit->file()), "the audit log");
  for (size_t r = 0; r < kRouteCount; ++r) {
    if (!p.sinks[r]) continue;
    const std::string name(route_name(static_cast<Route>(r)));
    for (const auto& f : p.sinks[r]->files()) {
      auto [it, fresh] = owner.emplace(canonical(f), "route '" + name + "'");
      if (!fresh) {
        const ConfigNode rc = routes.get(name);
        (rc.peek("path") ? *rc.peek("path") : rc)
            .fail("writes " + it->first + ", which " + it->second +
                  (it->second == "the input" ? " reads" : " writes too") +
                  ": each output needs a file of its own");
      }
    }
  }
  (void)input;
}

std::string known_names(const auto& map) {
  std::string s;
  for (const auto& [k, v] : map) s += (s.empty() ? "" : ", ") + k;
  return s;
}

}  // namespace

std::unique_ptr<Pipeline> build_pipeline(const ConfigNode& root, const std::string& config_bytes,
                                         const Registries& reg, Metrics& metrics,
                                         std::shared_ptr<AuditLog> audit) {
  if (!root.is_map()) root.fail("a pipeline file must be a map with keys name, input, routes, operators");
  auto p = std::make_unique<Pipeline>();
  p->file = root.file();
  p->info.name = root.get("name").as_string();
  if (p->info.name.empty()) root.get("name").fail("must not be empty");
  p->info.config_sha256 = sha256(config_bytes);
  p->info.instance_id = root.get_string("instance_id", default_instance_id());

  if (auto e = root.maybe("engine")) {
    p->engine.batch_size = static_cast<size_t>(e->get_int("batch_size", 1024, 1, 1 << 20));
    p->engine.max_in_flight = static_cast<size_t>(e->get_int("max_in_flight", 8, 1, 1024));
    p->engine.threads = static_cast<int>(e->get_int("threads", 0, 0, 1024));
    p->engine.max_record_bytes =
        static_cast<uint32_t>(e->get_int("max_record_bytes", 1 << 20, 64, 256 << 20));
    p->engine.max_readings_per_record =
        static_cast<uint32_t>(e->get_int("max_readings_per_record", 4096, 1, 1 << 20));
    p->engine.max_output_bytes_per_record = static_cast<uint64_t>(
        e->get_int("max_output_bytes_per_record", int64_t{16} << 20, 4096, int64_t{1} << 32));
    const std::string sb = e->get_string("signed_bytes", "once");
    if (sb != "once" && sb != "every") e->get("signed_bytes").fail("must be once or every");
    p->engine.signed_bytes_once = sb == "once";
    const std::string tr = e->get_string("trusted_records", "per_reading");
    if (tr != "per_reading" && tr != "grouped")
      e->get("trusted_records").fail("must be per_reading or grouped");
    p->engine.trusted_grouped = tr == "grouped";
    e->finish();
  }
  if (auto pr = root.maybe("processing")) {
    const std::string g = pr->get_string("guarantee", "at_least_once");
    if (g != "at_least_once" && g != "exactly_once")
      pr->get("guarantee").fail("must be at_least_once or exactly_once");
    p->engine.exactly_once = g == "exactly_once";
    p->engine.commit_interval_ms =
        static_cast<int>(pr->get_int("commit_interval_ms", 100, 1, 600000));
    pr->finish();
  }
  if (auto m = root.maybe("metrics")) {
    p->metrics_listen = m->get_string("listen", "");
    if (auto l = m->maybe("listen")) p->metrics_listen_at = l->location();
    m->finish();
  }

  BuildContext ctx{p->info, metrics, p->engine, p->services, p->warnings, &reg};
  if (auto a = root.maybe("audit"); a && !audit)
    p->info.audit = build_audit(*a, p->info, reg, ctx);
  else
    p->info.audit = std::move(audit);

  for (const auto& [name, factory] : reg.sections)
    if (auto section = root.maybe(name)) factory(*section, ctx);

  const ConfigNode input = root.get("input");
  {
    const ConfigNode type = input.get("type");
    const std::string t = type.as_string();
    auto it = reg.sources.find(t);
    if (it == reg.sources.end())
      type.fail("unknown input type '" + t + "' (known: " + known_names(reg.sources) + ")");
    p->source = it->second(input, ctx);
    if (auto fmt = input.maybe("format"); fmt && fmt->as_string() != "assay") {
      const std::string name = fmt->as_string();
      auto f = reg.formats.find(name);
      if (f == reg.formats.end()) {
        std::string known = "assay";
        for (const auto& [k, v] : reg.formats) known += ", " + k;
        fmt->fail("unknown format '" + name + "' (known: " + known + ")");
      }
      p->format = f->second(input, ctx);
    }
    input.finish();
  }

  const ConfigNode routes = root.get("routes");
  for (const std::string& name : routes.keys()) {
    Route route;
    if (name == "trusted")
      route = Route::kTrusted;
    else if (name == "rejected")
      route = Route::kRejected;
    else if (name == "alerts")
      route = Route::kAlerts;
    else if (name == "attestations")
      route = Route::kAttestations;
    else if (name == "verifications")
      route = Route::kVerifications;
    else
      routes.get(name).fail("unknown route '" + name +
                            "' (routes are trusted, rejected, alerts, attestations, verifications)");
    const ConfigNode rc = routes.get(name);
    const ConfigNode type = rc.get("type");
    const std::string t = type.as_string();
    auto it = reg.sinks.find(t);
    if (it == reg.sinks.end())
      type.fail("unknown sink type '" + t + "' (known: " + known_names(reg.sinks) + ")");
    p->sinks[static_cast<size_t>(route)] = it->second(rc, route, ctx);
    rc.finish();
  }
  if (!p->sinks[static_cast<size_t>(Route::kTrusted)])
    routes.fail("route 'trusted' is required");
  if (p->engine.exactly_once) {
    const auto txns = p->services.all<Transactions>();
    if (txns.empty())
      root.get("processing")
          .get("guarantee")
          .fail(
              "exactly_once needs a Kafka input (offsets are committed in the outputs' "
              "transaction)");
    p->txn = txns.front();
    for (size_t r = 0; r < kRouteCount; ++r)
      if (p->sinks[r] && !p->sinks[r]->capabilities().transactional)
        routes.get(std::string(route_name(static_cast<Route>(r))))
            .fail(
                "with processing.guarantee: exactly_once every route must be a Kafka topic on "
                "the input's cluster (written in its transactions)");
  }
  if (!p->sinks[static_cast<size_t>(Route::kRejected)])
    routes.fail("route 'rejected' is required: every record that cannot be processed goes there");

  p->stage_names.push_back("decode");
  if (auto ops = root.maybe("operators")) {
    if (!ops->is_null()) {
      for (const ConfigNode& oc : ops->items()) {
        const ConfigNode type = oc.get("type");
        const std::string t = type.as_string();
        const OperatorFactory* f = reg.operators.find(t);
        if (f == nullptr) {
          std::string known;
          for (const auto& n : reg.operators.names()) known += (known.empty() ? "" : ", ") + n;
          type.fail("unknown operator '" + t + "' (known: " + known + ")");
        }
        const std::string name = oc.get_string("name", t);
        p->operators.push_back((*f)(oc, ctx));
        p->stage_names.push_back(name);
        oc.finish();
      }
    }
  }
  if (p->stage_names.size() > 250) root.get("operators").fail("too many operators (max 250)");
  bool seals = false;
  for (const auto& op : p->operators) seals = seals || op->seals();
  if (seals && !p->sinks[static_cast<size_t>(Route::kAttestations)])
    routes.fail("route 'attestations' is required with the provenance operator (checkpoints)");
  if (!seals && p->sinks[static_cast<size_t>(Route::kAttestations)])
    routes.get("attestations").fail("route 'attestations' needs the provenance operator");
  if (seals) {
    // Chains are per output partition and continue from what the route holds.
    for (Route r : {Route::kTrusted, Route::kAttestations}) {
      const ConfigNode rc = routes.get(std::string(route_name(r)));
      const SinkCapabilities caps = p->sinks[static_cast<size_t>(r)]->capabilities();
      if (!caps.follows_source_partition)
        rc.fail("with the provenance operator, this route must keep each source partition's "
                "records apart (Kafka: `partition: source`)");
      if (!caps.read_back)
        rc.fail("with the provenance operator, this route must be able to read back what it "
                "wrote (a framed file or Kafka; not jsonl)");
    }
  }
  // Durable operator state: the stateful operators whose states can be kept entry by entry.
  std::vector<StateOperator> durable_ops;
  for (size_t i = 0; i < p->operators.size(); ++i) {
    const Operator& op = *p->operators[i];
    if (!op.stateful()) continue;
    const auto probe = op.make_state(Partition(0));
    if (probe && probe->durable())
      durable_ops.push_back(StateOperator{i, p->stage_names[i + 1], std::string(op.type())});
  }
  bool store_built = false;
  {
    const auto section = root.maybe("state");
    if (section && !reg.state_store) section->fail("durable state is not available in this build");
    if (reg.state_store) p->state = reg.state_store(section ? &*section : nullptr, input, ctx);
    store_built = p->state != nullptr;
    if (p->state) {
      p->state_ops = std::move(durable_ops);
      if (p->state_ops.empty()) p->state.reset();  // nothing to keep
    }
  }
  for (size_t i = 0; i < p->operators.size(); ++i) {
    if (!p->operators[i]->stateful()) continue;
    bool kept = false;
    for (const StateOperator& so : p->state_ops) kept = kept || so.op == i;
    if (store_built && !kept && !p->operators[i]->seals())
      p->warnings.push_back(root.location() + ": operator '" + p->stage_names[i + 1] +
                            "': its state is not durable: it starts empty after a restart or "
                            "a rebalance (docs/state.md)");
  }
  check_file_collisions(*p, input, routes);
  root.finish();
  return p;
}

std::unique_ptr<Pipeline> load_pipeline(const std::string& path, const Registries& registries,
                                        Metrics& metrics, std::shared_ptr<AuditLog> audit) {
  std::string text, error;
  if (!read_regular_file(path, kMaxPipelineFileBytes, text, error))
    throw ConfigError(path, 0, 0, "", error);
  ConfigNode root = ConfigNode::load_string(text, path);
  return build_pipeline(root, text, registries, metrics, std::move(audit));
}

}  // namespace assay::engine
