#include "engine/supervisor.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine/audit_log.hpp"
#include "engine/bytes.hpp"
#include "engine/http_server.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"
#include "engine/version.hpp"

namespace assay::engine {

namespace {

void add_summary(RunSummary& total, const RunSummary& s) {
  total.ok = total.ok && s.ok;
  if (!s.ok && total.error.empty()) total.error = s.error;
  total.frames_in += s.frames_in;
  total.rows_in += s.rows_in;
  total.trusted += s.trusted;
  total.rejected += s.rejected;
  total.alerts += s.alerts;
  total.unconfirmed += s.unconfirmed;
  for (const auto& [k, v] : s.rejected_by_reason) total.rejected_by_reason[k] += v;
  total.seconds += s.seconds;
}

void log_warnings(const Pipeline& p) {
  for (const auto& w : p.warnings) log_warn("config", "warning", {{"detail", w}});
}

}  // namespace

Supervisor::Supervisor(Registries factories, Metrics& metrics, SupervisorOptions options)
    : factories_(std::move(factories)), metrics_(metrics), options_(std::move(options)) {}

Supervisor::~Supervisor() = default;

void Supervisor::request_stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (Runner* r = current_.load()) r->request_stop();
}

bool Supervisor::ready() const {
  const Runner* r = current_.load();
  return r != nullptr && r->ready();
}

// Audit log: engine.start (not for a reload) and config.load before a pipeline runs; false if
// they cannot be written.
bool Supervisor::audit_start(const Pipeline& p, bool reload) {
  AuditLog* audit = p.info.audit.get();
  if (audit == nullptr) return true;
  std::string err;
  if (!audit->open(&err)) {
    log_error("audit", "cannot open the audit log", {{"error", err}});
    return false;
  }
  std::string stages;
  for (const auto& s : p.stage_names) stages += (stages.empty() ? "" : ",") + s;
  const bool ok = (reload || audit->record("engine.start", {{"version", kVersion},
                                                            {"build", kBuildId},
                                                            {"binary_sha256", binary_sha256_hex()},
                                                            {"pid", std::to_string(getpid())}})) &&
                  audit->record("config.load", {{"file", p.file},
                                                {"config_sha256", to_hex(p.info.config_sha256)},
                                                {"stages", stages},
                                                {"reason", reload ? "reload" : "start"}});
  if (!ok) log_error("audit", "cannot write the audit log", {{"file", audit->file()}});
  return ok;
}

void Supervisor::audit_stop(const Pipeline& p, const RunSummary& s, const std::string& reason) {
  AuditLog* audit = p.info.audit.get();
  if (audit == nullptr) return;
  audit->record("engine.stop", {{"ok", s.ok ? "true" : "false"},
                                {"reason", reason},
                                {"frames_in", std::to_string(s.frames_in)},
                                {"readings_in", std::to_string(s.rows_in)},
                                {"trusted", std::to_string(s.trusted)},
                                {"rejected", std::to_string(s.rejected)},
                                {"alerts", std::to_string(s.alerts)}});
  audit->close();
}

SupervisedRun Supervisor::run(std::unique_ptr<Pipeline> first) {
  SupervisedRun out;
  owned_ = std::move(first);
  Pipeline* p = owned_.get();
  last_ = p;
  log_warnings(*p);
  if (!audit_start(*p, false)) {
    out.summary.ok = false;
    out.summary.error = out.reason = "the audit log cannot be written";
    return out;
  }
  std::unique_ptr<HttpServer> http;
  const std::string listen = p->metrics_listen;
  if (!listen.empty()) {
    http = std::make_unique<HttpServer>(listen, metrics_, [this] { return ready(); },
                                        [] { return true; });
    std::string err;
    if (!http->start(&err)) {
      out.summary.ok = false;
      out.config_error = true;
      // A configuration error (exit 2), located like every other: file:line:column: key.
      out.summary.error = out.reason =
          (p->metrics_listen_at.empty() ? std::string() : p->metrics_listen_at + ": ") +
          "key 'metrics.listen': " + err;
      audit_stop(*p, out.summary, out.reason);
      return out;
    }
    http_port_.store(http->port());
    log_info("http", "serving /metrics /healthz /readyz",
             {{"listen", listen}, {"port", std::to_string(http->port())}});
  }
  ConfigProbe config_probe(metrics_);
  config_probe.loaded(p->info.name, to_hex(p->info.config_sha256), false);
  const bool reloadable = !options_.config_path.empty();
  std::string running_sha = to_hex(p->info.config_sha256);
  std::string refused_sha;  // content last refused by a watched reload (not retried until it changes)
  reload_.store(false);

  out.started = true;
  while (true) {
    Runner runner(*p, metrics_);
    if (http) http->set_routes(p->services.http_routes());  // this generation's endpoints
    if (options_.on_start) options_.on_start(runner);
    current_.store(&runner);
    if (stop_.load()) runner.request_stop();  // a stop arrived between two generations
    RunSummary part;
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      part = runner.run();
      finished.store(true);
    });
    std::unique_ptr<Pipeline> next;
    int64_t next_check = monotonic_ns() + options_.watch_interval_ms * 1'000'000;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!reloadable || stop_.load()) continue;
      std::string trigger;
      if (reload_.exchange(false)) {
        trigger = "requested";
      } else if (options_.watch_interval_ms > 0 && monotonic_ns() >= next_check) {
        next_check = monotonic_ns() + options_.watch_interval_ms * 1'000'000;
        const std::string sha = file_sha256_hex(options_.config_path);
        if (!sha.empty() && sha != running_sha && sha != refused_sha) trigger = "file changed";
      }
      if (trigger.empty()) continue;
      try {
        next = load_pipeline(options_.config_path, factories_, metrics_);
      } catch (const ConfigError& e) {
        refused_sha = file_sha256_hex(options_.config_path);
        if (AuditLog* audit = p->info.audit.get()) {
          const auto sha = from_hex(refused_sha);
          audit->record_config_reload(false, sha ? *sha : std::vector<uint8_t>{}, e.what());
        }
        log_error("config", "reload refused; the running pipeline stays",
                  {{"trigger", trigger}, {"error", e.what()}, {"config_sha256", refused_sha}});
        // Counted after the audit record and the log line: whoever sees the metric move finds
        // both.
        config_probe.reload_failed();
        if (options_.on_reload) options_.on_reload(false, refused_sha, e.what());
        continue;
      }
      if (options_.threads_override >= 0) next->engine.threads = options_.threads_override;
      if (next->metrics_listen != listen)
        log_warn("config", "metrics.listen changes take effect at the next restart",
                 {{"running", listen}, {"configured", next->metrics_listen}});
      log_info("config", "reloading: draining the running pipeline",
               {{"trigger", trigger},
                {"pipeline", next->info.name},
                {"config_sha256", to_hex(next->info.config_sha256)}});
      runner.request_stop();
      break;
    }
    worker.join();
    current_.store(nullptr);
    if (http) http->set_routes({});
    add_summary(out.summary, part);
    if (!next || !part.ok || stop_.load()) {
      if (next && !part.ok)
        log_error("config", "reload abandoned: the running pipeline failed while draining",
                  {{"error", part.error}});
      break;
    }
    running_sha = to_hex(next->info.config_sha256);
    refused_sha.clear();
    if (AuditLog* audit = p->info.audit.get()) {
      audit->record_config_reload(true, next->info.config_sha256);
      audit->close();
    }
    owned_ = std::move(next);
    p = owned_.get();
    last_ = p;
    log_warnings(*p);
    if (!audit_start(*p, true)) {
      out.summary.ok = false;
      out.summary.error = "the reloaded pipeline's audit log cannot be written";
      break;
    }
    config_probe.loaded(p->info.name, running_sha, true);
    log_info("config", "reloaded", {{"pipeline", p->info.name}, {"config_sha256", running_sha}});
    if (options_.on_reload) options_.on_reload(true, running_sha, {});
  }
  if (http) http->stop();
  out.reason = !out.summary.ok ? out.summary.error : stop_.load() ? "stop requested" : "input ended";
  audit_stop(*p, out.summary, out.reason);
  return out;
}

}  // namespace assay::engine
