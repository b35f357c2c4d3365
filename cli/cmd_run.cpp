// `assay run` and `assay lint`.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "connectors/builtin.hpp"
#include "registries/pipeline.hpp"
#include "engine/audit_log.hpp"
#include "engine/bytes.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "engine/log.hpp"
#include "engine/runner.hpp"
#include "engine/supervisor.hpp"
#include "engine/time.hpp"
#include "engine/version.hpp"
#include "metrology/builtin.hpp"
#include "operators/builtin.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine
namespace {

std::atomic<Supervisor*> g_supervisor{nullptr};
volatile std::sig_atomic_t g_signals = 0;

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
  if (Supervisor* s = g_supervisor.load()) s->request_stop();
  if (g_signals >= 3) std::_Exit(130);  // third Ctrl-C: the user insists
}

extern "C" void on_sighup(int) {
  if (Supervisor* s = g_supervisor.load()) s->request_reload();
}

/// SIGINT/SIGTERM request a graceful stop; installed before the pipeline is loaded, so that a
/// stop requested while loading (e.g. a pod terminated right after it started) still ends in
/// a clean exit instead of the default disposition.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

Registries builtin_registries() {
  Registries r;
  operators::register_builtin_operators(r.operators);
  connectors::register_builtin_connectors(r);
  registries::register_sections(r);
  metrology::register_metrology(r);
  return r;
}

namespace {

std::string summary_table(const Pipeline& p, const RunSummary& s) {
  char buf[256];
  std::string out;
  out += "\n== assay summary: pipeline '" + p.info.name + "' ==\n";
  auto row = [&](const char* k, uint64_t v) {
    std::snprintf(buf, sizeof buf, "  %-28s %12llu\n", k, static_cast<unsigned long long>(v));
    out += buf;
  };
  row("input records (frames)", s.frames_in);
  row("readings in", s.rows_in);
  row("trusted", s.trusted);
  row("rejected", s.rejected);
  for (const auto& [reason, n] : s.rejected_by_reason) {
    std::snprintf(buf, sizeof buf, "    %-26s %12llu\n", reason.c_str(),
                  static_cast<unsigned long long>(n));
    out += buf;
  }
  row("alerts", s.alerts);
  if (s.unconfirmed > 0) row("outputs not confirmed", s.unconfirmed);
  const bool balanced = s.rows_in == s.trusted + s.rejected;
  std::snprintf(buf, sizeof buf, "  %-28s %12s\n", "readings in = trusted+rejected",
                balanced ? "yes" : "NO");
  out += buf;
  std::snprintf(buf, sizeof buf, "  %-28s %12.3f\n  %-28s %12.0f\n", "seconds", s.seconds,
                "readings/s", s.seconds > 0 ? s.rows_in / s.seconds : 0.0);
  out += buf;
  if (!s.ok) out += "  error: " + s.error + "\n";
  return out;
}

void write_summary_json(const std::string& path, const RunSummary& s) {
  std::ofstream o(path);
  o << "{\"ok\":" << (s.ok ? "true" : "false") << ",\"frames_in\":" << s.frames_in
    << ",\"readings_in\":" << s.rows_in << ",\"trusted\":" << s.trusted
    << ",\"rejected\":" << s.rejected << ",\"alerts\":" << s.alerts << ",\"seconds\":" << s.seconds
    << ",\"rejected_by_reason\":{";
  bool first = true;
  for (const auto& [k, v] : s.rejected_by_reason) {
    o << (first ? "" : ",") << "\"" << k << "\":" << v;
    first = false;
  }
  o << "}}\n";
}

}  // namespace

int run_pipeline(std::unique_ptr<Pipeline> first, Metrics& metrics, const RunOptions& opts,
                 RunSummary& summary) {
  SupervisorOptions so;
  so.config_path = opts.config_path;
  so.watch_interval_ms = opts.watch_interval_ms;
  so.threads_override = opts.threads_override;
  so.on_start = opts.on_start;
  so.on_reload = opts.on_reload;
  Supervisor supervisor(builtin_registries(), metrics, std::move(so));
  g_supervisor.store(&supervisor);
  install_stop_handlers();
  if (!opts.config_path.empty()) {
    struct sigaction hup {};
    hup.sa_handler = on_sighup;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, nullptr);
  }
  if (g_signals > 0) supervisor.request_stop();  // a signal arrived while loading

  std::atomic<bool> done{false};
  std::thread progress_thread;
  if (opts.progress) {
    progress_thread = std::thread([&] {
      uint64_t last = 0;
      int64_t last_t = monotonic_ns();
      const Runner* seen = nullptr;
      while (!done.load()) {
        for (int i = 0; i < 10 && !done.load(); ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const Runner* r = supervisor.current();
        if (r == nullptr) continue;
        if (r != seen) {  // a reloaded pipeline starts its counters at zero
          seen = r;
          last = 0;
        }
        const RunStats& s = r->stats();
        const uint64_t rows = s.rows_in.load();
        const int64_t t = monotonic_ns();
        const double rate = (rows - last) / ((t - last_t) * 1e-9);
        last = rows;
        last_t = t;
        std::fprintf(stderr,
                     "\r[assay] %10.0f readings/s | in %llu | trusted %llu | rejected %llu | "
                     "alerts %llu   ",
                     rate, static_cast<unsigned long long>(rows),
                     static_cast<unsigned long long>(r->routes().readings(Route::kTrusted)),
                     static_cast<unsigned long long>(r->routes().readings(Route::kRejected)),
                     static_cast<unsigned long long>(r->routes().records(Route::kAlerts)));
      }
      std::fprintf(stderr, "\n");
    });
  }
  const SupervisedRun run = supervisor.run(std::move(first));
  done.store(true);
  if (progress_thread.joinable()) progress_thread.join();
  g_supervisor.store(nullptr);
  summary = run.summary;
  if (!run.started) {
    std::fprintf(stderr, "error: %s\n", run.reason.c_str());
    return run.config_error ? kExitUsage : kExitFailure;
  }
  std::fputs(summary_table(*supervisor.pipeline(), summary).c_str(), stdout);
  if (opts.on_finish) opts.on_finish(*supervisor.pipeline());
  std::fflush(stdout);
  if (!opts.summary_json.empty()) write_summary_json(opts.summary_json, summary);
  return summary.ok ? kExitOk : kExitFailure;
}

bool interrupted() {
  return g_signals > 0;
}

int cmd_lint(int argc, char** argv) {
  Args args(
      "assay lint PIPELINE.yaml",
      "Validates a pipeline file (keys, types, operators, connectors, referenced registries)\n"
      "without running it. Exit 0 if valid, 2 with file:line:column messages if not.");
  args.positional("PIPELINE.yaml", "the pipeline file");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  const std::string path = args.get("PIPELINE.yaml");
  Registries reg = builtin_registries();
  Metrics metrics;
  try {
    auto p = load_pipeline(path, reg, metrics);
    for (const auto& w : p->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf("ok: %s: pipeline '%s' with %zu operator(s)%s\n", path.c_str(),
                p->info.name.c_str(), p->operators.size(),
                p->warnings.empty() ? "" : (", " + std::to_string(p->warnings.size()) + " warning(s)").c_str());
    return kExitOk;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
}

int cmd_run(int argc, char** argv) {
  Args args("assay run PIPELINE.yaml [options]",
            "Runs a pipeline until its input ends, or SIGTERM/SIGINT (graceful drain), then\n"
            "prints a summary. Exit 0 on success, 1 if the run failed, 2 on a bad config.\n"
            "Hot reload: SIGHUP, or a change of the file's content (checked every\n"
            "--watch-interval-ms), loads the file again; if it is valid the running pipeline\n"
            "drains (offsets committed) and the new one starts; if not, the error is logged\n"
            "with file:line:column and the running pipeline keeps going.");
  args.positional("PIPELINE.yaml", "the pipeline file")
      .flag("progress", "print a live progress line (default when stderr is a terminal)")
      .flag("no-progress", "never print the progress line")
      .option("summary-json", "also write the summary as JSON to this file")
      .option("threads", "worker threads (overrides engine.threads)")
      .option("watch-interval-ms",
              "check the pipeline file for changes this often and reload it (0 = only on SIGHUP)",
              "2000")
      .flag("no-reload", "ignore SIGHUP and file changes (no hot reload)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  install_stop_handlers();
  const std::string path = args.get("PIPELINE.yaml");
  Registries reg = builtin_registries();
  Metrics metrics;
  std::unique_ptr<Pipeline> p;
  try {
    p = load_pipeline(path, reg, metrics);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
  if (args.has("threads")) {
    long long t = 0;
    if (!args.get_int("threads", t) || t < 0 || t > 1024) {
      std::fprintf(stderr, "error: --threads must be an integer in [0, 1024]\n");
      return kExitUsage;
    }
    p->engine.threads = static_cast<int>(t);
  }
  RunOptions opts;
  if (args.has("threads")) opts.threads_override = p->engine.threads;
  long long watch = 0;
  if (!args.get_int("watch-interval-ms", watch) || watch < 0) {
    std::fprintf(stderr, "error: --watch-interval-ms must be a non-negative integer\n");
    return kExitUsage;
  }
  opts.watch_interval_ms = watch;
  if (!args.has("no-reload")) opts.config_path = path;
  opts.progress = !args.has("no-progress") && (args.has("progress") || isatty(STDERR_FILENO) == 1);
  opts.summary_json = args.get("summary-json");
  RunSummary summary;
  return run_pipeline(std::move(p), metrics, opts, summary);
}

}  // namespace assay::cli
