#pragma once
/// \file Running a loaded pipeline from the CLI (shared by `run` and `demo`): HTTP endpoint,
/// signal handling (SIGINT/SIGTERM drain gracefully), live progress line, summary table.

#include <functional>
#include <string>

#include "engine/pipeline.hpp"
#include "engine/runner.hpp"

namespace assay::engine::cli {

/// Options of a CLI run.
struct RunOptions {
  bool progress = false;     ///< live progress line on stderr
  std::string summary_json;  ///< also write the summary as JSON here ("" = no)
  /// Called once the runner exists, before it runs (e.g. to watch its counters).
  std::function<void(const Runner&)> on_start;
};

/// The built-in operator and connector factories.
Registries builtin_registries();

/// Runs `pipeline` to its end (or a signal), prints the summary; returns the exit code.
int run_pipeline(Pipeline& pipeline, Metrics& metrics, const RunOptions& options,
                 RunSummary& summary);

/// True once SIGINT/SIGTERM was received during run_pipeline.
bool interrupted();

}  // namespace assay::engine::cli
