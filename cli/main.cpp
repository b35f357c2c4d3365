// `assay`: the command-line entry point. Dispatches to the subcommands in commands.hpp.
#include <oneapi/tbb/global_control.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/config_test.hpp"
#include "engine/audit_log.hpp"
#include "engine/version.hpp"

namespace {

struct Command {
  const char* name;
  int (*fn)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"run", assay::cli::cmd_run, "run a pipeline"},
    {"demo", assay::cli::cmd_demo, "run the demo on the embedded Kafka cluster"},
    {"lint", assay::cli::cmd_lint, "validate a pipeline file without running it"},
    {"test", assay::cli::cmd_test, "run a pipeline's config tests (PIPELINE_test.yaml)"},
    {"simulate", assay::cli::cmd_simulate, "simulate a fleet of signed sensors"},
    {"keygen", assay::cli::cmd_keygen, "create signing keys and HMAC secrets"},
    {"inspect", assay::cli::cmd_inspect, "decode an Assay record file to JSON lines"},
    {"verify-audit", assay::cli::cmd_verify_audit, "verify an audit log's chain and signatures"},
    {"verify-stream", assay::cli::cmd_verify_stream,
     "verify a trusted stream's chains and checkpoints"},
    {"prove", assay::cli::cmd_prove, "inclusion proof for one trusted record"},
    {"pubkey", assay::cli::cmd_pubkey, "print an engine key's public key to pin"},
    {"state", assay::cli::cmd_state, "reset a pipeline's durable operator state (audited)"},
    {"dcc", assay::cli::cmd_dcc, "inspect a Digital Calibration Certificate (DCC XML)"},
    {"verify-results", assay::cli::cmd_verify_results,
     "check e-verification results (signatures, decisions, evidence)"},
    {"aas", assay::cli::cmd_aas, "export Asset Administration Shells from a register snapshot"},
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: assay COMMAND [ARGS]   (assay COMMAND --help for details)\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-13s %s\n", c.name, c.summary);
  std::fprintf(out, "  %-13s %s\n", "version", "print the engine version");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return assay::cli::kExitUsage;
  }
  const char* cmd = argv[1];
  if (std::strcmp(cmd, "--help") == 0 || std::strcmp(cmd, "-h") == 0 ||
      std::strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (std::strcmp(cmd, "version") == 0 || std::strcmp(cmd, "--version") == 0) {
    // WELMEC 7.2 software identification: the identity, and the checksum of the binary that
    // runs (the audit log's engine.start event records the same checksum).
    std::printf("assay %s (build %s)\n", assay::engine::kVersion, assay::engine::kBuildId);
    const std::string sha = assay::engine::binary_sha256_hex();
    std::printf("binary sha256 %s\n", sha.empty() ? "unavailable" : sha.c_str());
    return 0;
  }
  for (const auto& c : kCommands) {
    if (std::strcmp(cmd, c.name) != 0) continue;
    // Hold the TBB scheduler so that its worker threads are joined before the process exits.
    // Without the join, workers still run their thread-exit handlers (OpenSSL's per-thread DRBG
    // and error state) while the process's exit handlers run: a race that LeakSanitizer reports
    // as a leak, and that would let any exit-time check see half-torn-down threads.
    oneapi::tbb::task_scheduler_handle scheduler{oneapi::tbb::attach{}};
    const int code = c.fn(argc - 1, argv + 1);
    (void)oneapi::tbb::finalize(scheduler, std::nothrow);
    return code;
  }
  std::fprintf(stderr, "assay: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return assay::cli::kExitUsage;
}
