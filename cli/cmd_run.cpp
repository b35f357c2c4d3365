// `assay run` and `assay lint`.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "connectors/builtin.hpp"
#include "engine/audit_log.hpp"
#include "engine/bytes.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "engine/http_server.hpp"
#include "engine/log.hpp"
#include "engine/runner.hpp"
#include "engine/time.hpp"
#include "engine/version.hpp"
#include "operators/builtin.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine
namespace {

std::atomic<Runner*> g_runner{nullptr};
volatile std::sig_atomic_t g_signals = 0;
volatile std::sig_atomic_t g_reload = 0;

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
  if (Runner* r = g_runner.load()) r->request_stop();
  if (g_signals >= 3) std::_Exit(130);  // third Ctrl-C: the user insists
}

extern "C" void on_sighup(int) {
  g_reload = 1;
}

}  // namespace

Registries builtin_registries() {
  Registries r;
  operators::register_builtin_operators(r.operators);
  connectors::register_builtin_connectors(r);
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

// Audit log: engine.start (not for a reload) and config.load before a pipeline runs; false if
// they cannot be written.
bool audit_start(const Pipeline& p, bool reload) {
  AuditLog* audit = p.info.audit.get();
  if (audit == nullptr) return true;
  std::string err;
  if (!audit->open(&err)) {
    std::fprintf(stderr, "error: %s\n", err.c_str());
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
  if (!ok) std::fprintf(stderr, "error: audit log %s: cannot write\n", audit->file().c_str());
  return ok;
}

void audit_stop(const Pipeline& p, const RunSummary& s, const std::string& reason) {
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

}  // namespace

namespace {

void add_summary(RunSummary& total, const RunSummary& s) {
  total.ok = total.ok && s.ok;
  if (!s.ok && total.error.empty()) total.error = s.error;
  total.frames_in += s.frames_in;
  total.rows_in += s.rows_in;
  total.trusted += s.trusted;
  total.rejected += s.rejected;
  total.alerts += s.alerts;
  for (const auto& [k, v] : s.rejected_by_reason) total.rejected_by_reason[k] += v;
  total.seconds += s.seconds;
}

}  // namespace

int run_pipeline(Pipeline& first, Metrics& metrics, const RunOptions& opts, RunSummary& summary) {
  if (!audit_start(first, false)) return kExitFailure;
  std::atomic<Runner*> current{nullptr};
  std::unique_ptr<HttpServer> http;
  if (!first.metrics_listen.empty()) {
    http = std::make_unique<HttpServer>(
        first.metrics_listen, metrics,
        [&current] {
          const Runner* r = current.load();
          return r != nullptr && r->ready();
        },
        [] { return true; });
    std::string err;
    if (!http->start(&err)) {
      // A configuration error (exit 2), located like every other: file:line:column: key.
      const std::string at = first.metrics_listen_at.empty() ? "" : first.metrics_listen_at + ": ";
      std::fprintf(stderr, "error: %skey 'metrics.listen': %s\n", at.c_str(), err.c_str());
      audit_stop(first, summary, "metrics.listen: " + err);
      return kExitUsage;
    }
    log_info("http", "serving /metrics /healthz /readyz",
             {{"listen", first.metrics_listen}, {"port", std::to_string(http->port())}});
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const bool reloadable = !opts.config_path.empty();
  if (reloadable) {
    struct sigaction hup {};
    hup.sa_handler = on_sighup;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, nullptr);
  }
  ConfigProbe config_probe(metrics);
  config_probe.loaded(first.info.name, to_hex(first.info.config_sha256), false);

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
        const Runner* r = current.load();
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
                     static_cast<unsigned long long>(s.trusted.load()),
                     static_cast<unsigned long long>(s.rejected.load()),
                     static_cast<unsigned long long>(s.alerts.load()));
      }
      std::fprintf(stderr, "\n");
    });
  }

  std::unique_ptr<Pipeline> owned;  // pipelines loaded by a reload
  Pipeline* p = &first;
  std::string running_sha = to_hex(first.info.config_sha256);
  std::string
      refused_sha;  // content last refused by a watched reload (not retried until it changes)
  summary = RunSummary{};
  g_reload = 0;
  while (true) {
    Runner runner(*p, metrics);
    if (opts.on_start) opts.on_start(runner);
    g_runner.store(&runner);
    current.store(&runner);
    if (g_signals > 0) runner.request_stop();  // a signal arrived between two pipelines
    RunSummary part;
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      part = runner.run();
      finished.store(true);
    });
    std::unique_ptr<Pipeline> next;
    int64_t next_check = monotonic_ns() + opts.watch_interval_ms * 1'000'000;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!reloadable || g_signals > 0) continue;
      bool requested = false;
      std::string trigger;
      if (g_reload != 0) {
        g_reload = 0;
        requested = true;
        trigger = "SIGHUP";
      } else if (opts.watch_interval_ms > 0 && monotonic_ns() >= next_check) {
        next_check = monotonic_ns() + opts.watch_interval_ms * 1'000'000;
        const std::string sha = file_sha256_hex(opts.config_path);
        if (!sha.empty() && sha != running_sha && sha != refused_sha) {
          requested = true;
          trigger = "file changed";
        }
      }
      if (!requested) continue;
      Registries reg = builtin_registries();
      try {
        next = load_pipeline(opts.config_path, reg, metrics);
      } catch (const ConfigError& e) {
        refused_sha = file_sha256_hex(opts.config_path);
        config_probe.reload_failed();
        if (AuditLog* audit = p->info.audit.get()) {
          const auto sha = from_hex(refused_sha);
          audit->record_config_reload(false, sha ? *sha : std::vector<uint8_t>{}, e.what());
        }
        log_error("config", "reload refused; the running pipeline stays",
                  {{"trigger", trigger}, {"error", e.what()}, {"config_sha256", refused_sha}});
        if (opts.on_reload) opts.on_reload(false, refused_sha, e.what());
        continue;
      }
      if (opts.threads_override >= 0) next->engine.threads = opts.threads_override;
      if (next->metrics_listen != first.metrics_listen)
        log_warn("config", "metrics.listen changes take effect at the next restart",
                 {{"running", first.metrics_listen}, {"configured", next->metrics_listen}});
      log_info("config", "reloading: draining the running pipeline",
               {{"trigger", trigger},
                {"pipeline", next->info.name},
                {"config_sha256", to_hex(next->info.config_sha256)}});
      runner.request_stop();
      break;
    }
    worker.join();
    current.store(nullptr);
    g_runner.store(nullptr);
    add_summary(summary, part);
    if (!next || !part.ok || g_signals > 0) {
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
    owned = std::move(next);
    p = owned.get();
    if (!audit_start(*p, true)) {
      summary.ok = false;
      summary.error = "the reloaded pipeline's audit log cannot be written";
      break;
    }
    config_probe.loaded(p->info.name, running_sha, true);
    log_info("config", "reloaded", {{"pipeline", p->info.name}, {"config_sha256", running_sha}});
    if (opts.on_reload) opts.on_reload(true, running_sha, {});
  }
  done.store(true);
  if (progress_thread.joinable()) progress_thread.join();
  if (http) http->stop();
  std::fputs(summary_table(*p, summary).c_str(), stdout);
  std::fflush(stdout);
  if (!opts.summary_json.empty()) write_summary_json(opts.summary_json, summary);
  audit_stop(*p, summary, !summary.ok ? summary.error : interrupted() ? "signal" : "input ended");
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
    std::printf("ok: %s: pipeline '%s' with %zu operator(s)\n", path.c_str(), p->info.name.c_str(),
                p->operators.size());
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
  return run_pipeline(*p, metrics, opts, summary);
}

}  // namespace assay::cli
