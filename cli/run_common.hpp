#pragma once
/// \file Running a loaded pipeline from the CLI (shared by `run` and `demo`): HTTP endpoint,
/// signal handling (SIGINT/SIGTERM drain gracefully), live progress line, summary table.

#include <functional>
#include <memory>
#include <string>

#include "engine/pipeline.hpp"
#include "engine/runner.hpp"

namespace assay::cli {

/// Options of a CLI run.
struct RunOptions {
  bool progress = false;     ///< live progress line on stderr
  std::string summary_json;  ///< also write the summary as JSON here ("" = no)
  /// Called once the runner exists, before it runs (e.g. to watch its counters).
  std::function<void(const engine::Runner&)> on_start;
  /// Hot reload: the pipeline file, reloaded on SIGHUP and whenever its content changes
  /// (e.g. a Kubernetes ConfigMap update). Empty = no reload.
  std::string config_path;
  /// How often the file's content is compared with the running configuration (ms; 0 = only
  /// on SIGHUP).
  int64_t watch_interval_ms = 2000;
  /// Overrides engine.threads of every loaded pipeline (-1 = keep the file's value).
  int threads_override = -1;
  /// Called after every reload attempt: success, config SHA-256 (hex) of the new file, error.
  std::function<void(bool ok, const std::string& config_sha256, const std::string& error)>
      on_reload;
  /// Called with the pipeline that ran last, after its summary was printed (e.g. to print what
  /// its services hold).
  std::function<void(const engine::Pipeline&)> on_finish;
};

/// The built-in operator and connector factories.
engine::Registries builtin_registries();

/// Runs `pipeline` under an engine::Supervisor to its end (or a signal: SIGINT/SIGTERM stop
/// it gracefully, SIGHUP reloads), prints the summary; returns the exit code. With
/// options.config_path set, a changed or SIGHUP-signalled configuration replaces the running
/// pipeline after a graceful drain; an invalid one is refused and the old pipeline keeps running.
int run_pipeline(std::unique_ptr<engine::Pipeline> pipeline, engine::Metrics& metrics,
                 const RunOptions& options, engine::RunSummary& summary);

/// True once SIGINT/SIGTERM was received during run_pipeline.
bool interrupted();

}  // namespace assay::cli
