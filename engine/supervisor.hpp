#pragma once
/// \file The Supervisor runs a pipeline the way production does, in-process: the HTTP
/// endpoint (/metrics, /healthz, /readyz), the audit log's life cycle (engine.start,
/// config.load, config.reload, engine.stop), hot reload (a requested reload or a changed
/// pipeline file: the new file is validated in full while the old pipeline runs; a valid one
/// replaces it after a graceful drain, an invalid one is refused with its location and the old
/// pipeline keeps running), readiness, and a graceful stop on request. `assay run` only parses
/// arguments, turns signals into request_stop()/request_reload() and prints the summary; a test
/// or an embedding program runs the same Supervisor.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "engine/metrics.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"

namespace assay::engine {

/// How a Supervisor runs.
struct SupervisorOptions {
  /// The pipeline file, reloaded on request_reload() and whenever its content changes (e.g. a
  /// Kubernetes ConfigMap update). Empty = no reload.
  std::string config_path;
  /// How often the file's content is compared with the running configuration (ms; 0 = only on
  /// request).
  int64_t watch_interval_ms = 2000;
  /// Overrides engine.threads of every loaded pipeline (-1 = keep the file's value).
  int threads_override = -1;
  /// Called once each runner exists, before it runs (e.g. to watch its counters).
  std::function<void(const Runner&)> on_start;
  /// Called after every reload attempt: success, config SHA-256 (hex) of the file, error.
  std::function<void(bool ok, const std::string& config_sha256, const std::string& error)>
      on_reload;
};

/// How a supervised run ended.
struct SupervisedRun {
  /// Sum over every pipeline generation that ran (a reload starts a new one).
  RunSummary summary;
  /// True if the run could not start because of its configuration (e.g. metrics.listen cannot
  /// be bound): the exit code of a bad config.
  bool config_error = false;
  /// False if no pipeline ran at all (the audit log or the endpoint could not start).
  bool started = false;
  /// Why it stopped: "input ended", "stop requested", or the error.
  std::string reason;
};

/// Runs a pipeline with reload, audit, readiness and the metrics endpoint.
class Supervisor {
 public:
  /// `factories` build reloaded pipelines; `metrics` is shared by every generation.
  Supervisor(Registries factories, Metrics& metrics, SupervisorOptions options = {});
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Runs `first` (loaded by the caller, so that a bad config is the caller's error) until its
  /// input ends, a fatal error, or request_stop(); reloads in between as configured.
  SupervisedRun run(std::unique_ptr<Pipeline> first);
  /// Asks the run to stop after a graceful drain. Async-signal-safe (sets flags only).
  void request_stop();
  /// Asks for a reload of the configuration file. Async-signal-safe.
  void request_reload() { reload_.store(true, std::memory_order_relaxed); }
  /// True while a pipeline runs and its source is healthy (/readyz).
  bool ready() const;
  /// The running pipeline generation's runner (null between generations); for progress lines.
  const Runner* current() const { return current_.load(); }
  /// The pipeline that ran last (valid after run() returned).
  const Pipeline* pipeline() const { return last_; }
  /// Port the HTTP endpoint listens on (0 = none).
  int http_port() const { return http_port_.load(); }

 private:
  bool audit_start(const Pipeline& p, bool reload);
  void audit_stop(const Pipeline& p, const RunSummary& s, const std::string& reason);

  Registries factories_;
  Metrics& metrics_;
  const SupervisorOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
  std::atomic<Runner*> current_{nullptr};
  std::atomic<int> http_port_{0};
  std::unique_ptr<Pipeline> owned_;
  const Pipeline* last_ = nullptr;
};

}  // namespace assay::engine
