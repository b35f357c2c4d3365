// Fuzz target: the pipeline file (engine::ConfigNode::load_string + engine::build_pipeline
// with every built-in operator, connector and section factory). A pipeline is only built,
// never started: building opens no output, starts no thread and connects nowhere (sources,
// sinks, the audit log, registry followers and the witness client do that in start()). To be
// sure nothing can reach the network, the Kafka factories here refuse every broker list other
// than 127.0.0.1:1 (a closed loopback port) before the real factory runs. The process works
// in an empty temporary directory; the document is named as if it were in examples/, so
// that the seeds' relative paths reach the examples' test data (read only).
// A bad file must end in engine::ConfigError (located); any other exception is a finding.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "connectors/builtin.hpp"
#include "engine/pipeline.hpp"
#include "fuzz/fuzz_util.hpp"
#include "operators/builtin.hpp"
#include "registries/pipeline.hpp"

using namespace assay;

namespace {

void loopback_only(const engine::ConfigNode& c) {
  const auto b = c.peek("brokers");
  if (b && b->is_scalar() && b->scalar() != "127.0.0.1:1")
    b->fail("fuzz: only brokers 127.0.0.1:1 (nothing is ever connected)");
}

engine::Registries make_registries() {
  engine::Registries r;
  operators::register_builtin_operators(r.operators);
  connectors::register_builtin_connectors(r);
  registries::register_sections(r);
  auto source = r.sources.at("kafka");
  r.sources["kafka"] = [source](const engine::ConfigNode& c, engine::BuildContext& ctx) {
    loopback_only(c);
    return source(c, ctx);
  };
  auto sink = r.sinks.at("kafka");
  r.sinks["kafka"] = [sink](const engine::ConfigNode& c, engine::Route route,
                            engine::BuildContext& ctx) {
    loopback_only(c);
    return sink(c, route, ctx);
  };
  auto audit = r.audit_publisher;
  r.audit_publisher = [audit](const engine::ConfigNode& kafka, const std::string& topic,
                              engine::BuildContext& ctx) {
    loopback_only(kafka);
    return audit(kafka, topic, ctx);
  };
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  static char dir[] = "/tmp/assay-fuzz-pipeline-XXXXXX";
  if (::mkdtemp(dir) == nullptr || ::chdir(dir) != 0) std::abort();
  std::atexit([] { ::rmdir(dir); });  // empty: nothing is ever written there
  ::setenv("ASSAY_INSTANCE_ID", "fuzz", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const engine::Registries reg = make_registries();
  static const std::string name = std::string(ASSAY_SOURCE_DIR) + "/examples/fuzz-pipeline.yaml";
  const std::string text(reinterpret_cast<const char*>(data), size);
  engine::Metrics metrics;
  try {
    const engine::ConfigNode root = engine::ConfigNode::load_string(text, name);
    auto p = engine::build_pipeline(root, text, reg, metrics);
    fuzz::check(p != nullptr && p->source != nullptr, "a pipeline without a source");
    fuzz::check(p->stage_names.size() == p->operators.size() + 1, "stage names miscounted");
  } catch (const engine::ConfigError& e) {
    fuzz::check(e.line() >= 0 && e.column() >= 0, "a config error without a location");
  }
  return 0;
}
