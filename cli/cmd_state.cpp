// `assay state reset PIPELINE.yaml`: deletes a pipeline's durable operator state (its
// changelog topics; docs/state.md) — the one way to start from empty state — and records it
// in the pipeline's audit log.

#include <cstdio>
#include <cstring>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "engine/audit_log.hpp"

namespace assay::cli {

using namespace assay::engine;

int cmd_state(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "reset") != 0) {
    std::fprintf(stderr,
                 "usage: assay state reset PIPELINE.yaml\n"
                 "  reset: deletes the pipeline's durable operator state (changelog topics), so\n"
                 "         that its next run starts from empty state; recorded in its audit log.\n"
                 "         Stop every instance of the pipeline first.\n");
    return argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)
               ? kExitOk
               : kExitUsage;
  }
  Args args("assay state reset PIPELINE.yaml",
            "Deletes the durable operator state of a pipeline (its changelog topics, named in\n"
            "docs/state.md), so that its next run starts from empty state, and records the reset\n"
            "in the pipeline's audit log (`audit:`). Stop every instance of the pipeline first.\n"
            "Exit 0 when the state is gone, 1 if it could not be deleted, 2 on a bad config.");
  args.positional("PIPELINE.yaml", "the pipeline file");
  if (int rc = handle_parse(args, argc - 1, argv + 1); rc >= 0) return rc;
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
  if (!p->state) {
    std::printf("pipeline '%s' keeps no durable operator state: nothing to reset\n",
                p->info.name.c_str());
    return kExitOk;
  }
  std::string error;
  if (p->info.audit && !p->info.audit->open(&error)) {
    std::fprintf(stderr, "error: audit log: %s\n", error.c_str());
    return kExitFailure;
  }
  const bool ok = p->state->reset(p->state_ops, &error);
  std::string where;
  for (size_t k = 0; k < p->state_ops.size(); ++k)
    where += (where.empty() ? "" : ", ") + p->state->describe(k, -1);
  if (p->info.audit) {
    AuditDetails details{{"pipeline", p->info.name}, {"state", where}};
    if (!ok) details.push_back({"error", error});
    p->info.audit->record(ok ? "state.reset" : "state.reset_failed", details);
    p->info.audit->close();
  }
  if (!ok) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return kExitFailure;
  }
  std::printf("state reset: pipeline '%s': deleted %s\n", p->info.name.c_str(), where.c_str());
  if (!p->info.audit)
    std::fprintf(stderr, "warning: the pipeline has no audit log; the reset is not recorded\n");
  return kExitOk;
}

}  // namespace assay::cli
