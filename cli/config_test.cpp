#include "cli/config_test.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "engine/framing.hpp"
#include "connectors/memory.hpp"
#include "connectors/record_json.hpp"
#include "engine/bytes.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "engine/config.hpp"
#include "engine/runner.hpp"
#include "engine/time.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "sim/keys.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

bool ConfigTestResult::passed() const {
  for (const auto& c : cases)
    if (!c.passed) return false;
  return true;
}

namespace {

using Bytes = std::vector<uint8_t>;

/// A test signing key from the test file's `keys:` section.
struct TestKey {
  std::string key_id;
  std::unique_ptr<sim::SigningKey> key;
};

/// Sets environment variables for the duration of a case and restores them afterwards.
class ScopedEnv {
 public:
  void set(const std::string& name, const std::string& value) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::array<uint8_t, 32> hex32(const ConfigNode& n, std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != 32) n.fail("expected 64 hex digits (32 bytes)");
  std::array<uint8_t, 32> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

std::string read_text_file(const ConfigNode& n, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) n.fail("cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, TestKey> parse_keys(const ConfigNode& keys) {
  std::map<std::string, TestKey> out;
  for (const std::string& name : keys.keys()) {
    const ConfigNode k = keys.get(name);
    const std::string alg = k.get("alg").as_string();
    sim::Alg a;
    if (alg == "ed25519")
      a = sim::Alg::kEd25519;
    else if (alg == "ecdsa-p256")
      a = sim::Alg::kEcdsaP256;
    else if (alg == "hmac")
      a = sim::Alg::kHmac;
    else
      k.get("alg").fail("unknown alg '" + alg + "' (ed25519, ecdsa-p256, hmac)");
    std::array<uint8_t, 32> seed{};
    if (k.has("seed")) {
      seed = hex32(k.get("seed"), k.get("seed").as_string());
    } else if (k.has("secret_file")) {
      std::string text = read_text_file(k.get("secret_file"), k.get("secret_file").as_path());
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.pop_back();
      seed = hex32(k.get("secret_file"), text);
    } else {
      k.fail("a test key needs `seed` (64 hex digits) or `secret_file`");
    }
    TestKey tk;
    tk.key_id = k.get("key_id").as_string();
    tk.key = sim::SigningKey::from_seed(a, seed);
    if (!tk.key) k.fail("OpenSSL could not make the key");
    k.finish();
    out.emplace(name, std::move(tk));
  }
  return out;
}

int64_t parse_time(const ConfigNode& n) {
  const std::string s = n.as_string();
  if (s.rfind("now", 0) == 0) {
    int64_t t = now_ns();
    if (s.size() == 3) return t;
    const char sign = s[3];
    const std::string rest = s.substr(4);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(rest, &used);
    } catch (const std::exception&) {
      n.fail("expected now, now+DURATION or now-DURATION (e.g. now-5s), or RFC 3339");
    }
    const std::string unit = rest.substr(used);
    double scale = 0;
    if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit == "d")
      scale = 86400e9;
    if ((sign != '+' && sign != '-') || scale == 0)
      n.fail("expected now, now+DURATION or now-DURATION with unit ms, s, m, h or d");
    // Converted and added only when the result is a representable time (no overflow).
    const double delta_d = v * scale;
    int64_t out = 0;
    if (!(std::fabs(delta_d) < 9.2e18) ||
        __builtin_add_overflow(t, static_cast<int64_t>(sign == '+' ? delta_d : -delta_d), &out))
      n.fail("now" + std::string(1, sign) + rest +
             " is outside 1677-09-21..2262-04-11, the range of times");
    return out;
  }
  const ParsedTime t = engine::parse_time(s, TimeBound::kInstant);
  if (!t.ns) n.fail(t.error + " (or now, now+DURATION, now-DURATION)");
  return *t.ns;
}

// A number for a reading field; `.nan`, `.inf` and `-.inf` are allowed (to test bad input).
double reading_number(const ConfigNode& n) {
  const std::string& t = n.scalar();
  if (t == ".nan" || t == ".NaN" || t == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (t == ".inf" || t == "+.inf" || t == "inf") return std::numeric_limits<double>::infinity();
  if (t == "-.inf" || t == "-inf") return -std::numeric_limits<double>::infinity();
  return n.as_double();
}

flatbuffers::Offset<wire::Reading> build_reading(flatbuffers::FlatBufferBuilder& fbb,
                                                 const ConfigNode& r) {
  const auto id = fbb.CreateString(r.get("sensor_id").as_string());
  const auto q = r.has("quantity") ? fbb.CreateString(r.get("quantity").as_string()) : 0;
  const auto u = r.has("unit") ? fbb.CreateString(r.get("unit").as_string()) : 0;
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> fw = 0;
  if (r.has("firmware_sha256")) {
    const auto h = hex32(r.get("firmware_sha256"), r.get("firmware_sha256").as_string());
    fw = fbb.CreateVector(h.data(), h.size());
  }
  wire::ReadingKind kind = wire::ReadingKind::Measurement;
  if (r.has("kind")) {
    const std::string k = r.get("kind").as_string();
    if (k == "reference_check")
      kind = wire::ReadingKind::ReferenceCheck;
    else if (k != "measurement")
      r.get("kind").fail("expected measurement or reference_check");
  }
  wire::ReadingBuilder rb(fbb);
  rb.add_sensor_id(id);
  rb.add_seq(static_cast<uint64_t>(r.get_int("seq", 1, 0)));
  rb.add_time_ns(r.has("time") ? parse_time(r.get("time")) : now_ns());
  if (!q.IsNull()) rb.add_quantity(q);
  if (!u.IsNull()) rb.add_unit(u);
  rb.add_value(reading_number(r.get("value")));
  rb.add_std_uncertainty(r.has("std_uncertainty") ? reading_number(r.get("std_uncertainty")) : 0);
  if (!fw.IsNull()) rb.add_firmware_sha256(fw);
  rb.add_kind(kind);
  if (r.has("reference_value")) rb.add_reference_value(reading_number(r.get("reference_value")));
  r.finish();
  return rb.Finish();
}

Bytes finished(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Wraps a body in a SignedReading/SignedBatch signed with a test key (`sign:` of an input).
Bytes sign_body(const ConfigNode& sign, const std::map<std::string, TestKey>& keys, Bytes body,
                bool batch) {
  const std::string name = sign.get("key").as_string();
  const auto it = keys.find(name);
  if (it == keys.end()) sign.get("key").fail("no key '" + name + "' in the test file's `keys:`");
  std::vector<uint8_t> sig;
  if (!it->second.key->sign(body, sig)) sign.fail("signing failed");
  if (sign.get_bool("tamper", false)) body[body.size() / 2] ^= 0x01;  // after signing
  if (sign.get_bool("corrupt_signature", false)) sig[0] ^= 0x01;
  const std::string key_id = sign.get_string("key_id", it->second.key_id);
  sign.finish();
  flatbuffers::FlatBufferBuilder fbb;
  fbb.ForceVectorAlignment(body.size(), 1, 8);
  const auto b = fbb.CreateVector(body);
  const auto k = fbb.CreateString(key_id);
  const auto s = fbb.CreateVector(sig);
  const auto alg = static_cast<wire::SignatureAlg>(it->second.key->alg());
  if (batch) {
    wire::FinishSignedBatchBuffer(fbb, wire::CreateSignedBatch(fbb, b, k, alg, s));
  } else {
    wire::FinishSignedReadingBuffer(fbb, wire::CreateSignedReading(fbb, b, k, alg, s));
  }
  return finished(fbb);
}

void build_inputs(const ConfigNode& input, const std::map<std::string, TestKey>& keys,
                  std::vector<Bytes>& out) {
  for (const ConfigNode& item : input.items()) {
    if (item.has("hex")) {
      auto b = from_hex(item.get("hex").as_string());
      if (!b) item.get("hex").fail("malformed hex");
      out.push_back(std::move(*b));
    } else if (item.has("text")) {  // a record of a text format, byte for byte (OCMF)
      const ConfigNode text = item.get("text");
      if (!text.is_scalar()) text.fail("must be a string (the record as written)");
      const std::string t = text.scalar();
      out.emplace_back(t.begin(), t.end());
    } else if (item.has("file")) {
      const std::string path = item.get("file").as_path();
      if (!std::ifstream(path)) item.get("file").fail("cannot read '" + path + "'");
      for (auto& f : engine::read_frame_file(path)) out.push_back(std::move(f));
    } else if (item.has("reading") || item.has("batch")) {
      const bool batch = item.has("batch");
      flatbuffers::FlatBufferBuilder fbb;
      if (batch) {
        std::vector<flatbuffers::Offset<wire::Reading>> rs;
        for (const ConfigNode& r : item.get("batch").items()) rs.push_back(build_reading(fbb, r));
        const auto v = fbb.CreateVector(rs);
        wire::FinishReadingBatchBuffer(fbb, wire::CreateReadingBatch(fbb, v));
      } else {
        wire::FinishReadingBuffer(fbb, build_reading(fbb, item.get("reading")));
      }
      Bytes body = finished(fbb);
      if (item.has("sign")) body = sign_body(item.get("sign"), keys, std::move(body), batch);
      out.push_back(std::move(body));
    } else {
      item.fail("an input needs one of `reading`, `batch`, `hex`, `text` or `file`");
    }
    item.finish();
  }
}

// ---- matching ---------------------------------------------------------------------------

bool as_number(const ConfigNode& n, double& v) {
  if (!n.is_scalar()) return false;
  const std::string& s = n.scalar();
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

std::string show(const std::optional<ConfigNode>& n) { return n ? n->to_flow() : "null"; }

// Child of `actual` at a dotted path ("provenance.key_id"); nullopt if absent.
std::optional<ConfigNode> child_at(const std::optional<ConfigNode>& actual, std::string_view path) {
  const size_t dot = path.find('.');
  const std::string part(path.substr(0, dot));
  if (!actual || !actual->is_map()) return std::nullopt;
  auto child = actual->peek(part);
  if (!child || dot == std::string_view::npos) return child;
  return child_at(child, path.substr(dot + 1));
}

void match(const ConfigNode& expected, const std::optional<ConfigNode>& actual,
           const std::string& where, std::vector<std::string>& failures) {
  if (expected.is_map() && expected.has("approx")) {
    double want = 0, got = 0, tol = 0;
    const auto tolerance = expected.maybe("tolerance");
    if (!as_number(expected.get("approx"), want) || (tolerance && !as_number(*tolerance, tol))) {
      failures.push_back(where + ": `approx`/`tolerance` must be numbers");
      return;
    }
    if (!actual || !as_number(*actual, got) || std::fabs(got - want) > tol)
      failures.push_back(where + ": expected " + expected.get("approx").to_flow() + " +/- " +
                         show(tolerance) + ", got " + show(actual));
    return;
  }
  if (expected.is_map()) {
    for (const auto& [key, value] : expected.entries())
      match(value, child_at(actual, key), where + "." + key, failures);
    return;
  }
  if (expected.is_sequence()) {
    const auto want = expected.items();
    if (!actual || !actual->is_sequence() || actual->items().size() != want.size()) {
      failures.push_back(where + ": expected " + expected.to_flow() + ", got " + show(actual));
      return;
    }
    const auto got = actual->items();
    for (size_t i = 0; i < want.size(); ++i)
      match(want[i], got[i], where + "[" + std::to_string(i) + "]", failures);
    return;
  }
  if (expected.is_null()) {
    if (actual && !actual->is_null())
      failures.push_back(where + ": expected null, got " + show(actual));
    return;
  }
  if (actual && actual->is_scalar() && actual->scalar() == expected.scalar()) return;
  double e = 0, a = 0;
  if (actual && as_number(expected, e) && as_number(*actual, a) &&
      std::fabs(e - a) <= 1e-9 * std::max(1.0, std::fabs(e)))
    return;
  failures.push_back(where + ": expected " + expected.to_flow() + ", got " + show(actual));
}

ConfigCaseResult run_case(const ConfigNode& c, const std::string& pipeline_path,
                          const std::optional<ConfigNode>& env,
                          const std::map<std::string, TestKey>& keys) {
  ConfigCaseResult result;
  result.name = c.get("name").as_string();
  ScopedEnv scoped;
  if (env)
    for (const std::string& k : env->keys()) scoped.set(k, env->get(k).as_string());
  if (auto local = c.maybe("env"))
    for (const std::string& k : local->keys()) scoped.set(k, local->get(k).as_string());

  std::vector<Bytes> records;
  build_inputs(c.get("input"), keys, records);
  const ConfigNode expect = c.get("expect");

  Registries reg = builtin_registries();
  Metrics metrics;
  auto p = load_pipeline(pipeline_path, reg, metrics);
  p->source = std::make_unique<connectors::MemorySource>(std::move(records), 1, "test");
  // Memory in, memory out: no durable state, no transactions (each case starts empty).
  p->state.reset();
  p->state_ops.clear();
  p->txn.reset();
  p->engine.exactly_once = false;
  p->services.remove("kafka-transactions");
  std::array<connectors::MemorySink*, kRouteCount> sinks{};
  for (size_t r = 0; r < kRouteCount; ++r) {
    if (!p->sinks[r]) continue;
    auto s = std::make_unique<connectors::MemorySink>();
    sinks[r] = s.get();
    p->sinks[r] = std::move(s);
  }
  std::vector<std::string> routes;
  for (const std::string& route : expect.keys()) {
    size_t r = 0;
    while (r < kRouteCount && route_name(static_cast<Route>(r)) != route) ++r;
    if (r == kRouteCount) expect.get(route).fail("unknown route '" + route + "'");
    if (sinks[r] == nullptr)
      expect.get(route).fail("the pipeline has no `" + route + "` route to check");
    routes.push_back(route);
  }

  Runner runner(*p, metrics);
  const RunSummary summary = runner.run();
  if (!summary.ok) result.failures.push_back("the pipeline failed: " + summary.error);

  for (const std::string& route : routes) {
    size_t r = 0;
    while (route_name(static_cast<Route>(r)) != route) ++r;
    const auto got = sinks[r]->records();
    const ConfigNode want = expect.get(route);
    std::vector<ConfigNode> items;
    if (want.is_map()) {
      const size_t count = static_cast<size_t>(want.get("count").as_int(0));
      want.finish();
      if (got.size() != count)
        result.failures.push_back(route + ": expected " + std::to_string(count) +
                                  " record(s), got " + std::to_string(got.size()));
      continue;
    }
    if (!want.is_null()) items = want.items();
    if (got.size() != items.size())
      result.failures.push_back(route + ": expected " + std::to_string(items.size()) +
                                " record(s), got " + std::to_string(got.size()));
    std::string json;
    for (size_t i = 0; i < std::min(got.size(), items.size()); ++i) {
      connectors::record_to_json(got[i], json);
      std::optional<ConfigNode> actual;
      try {
        actual = ConfigNode::load_json(json, route + "[" + std::to_string(i) + "]");
      } catch (const ConfigError&) {
        result.failures.push_back(route + "[" + std::to_string(i) + "]: unreadable output");
        continue;
      }
      match(items[i], actual, route + "[" + std::to_string(i) + "]", result.failures);
    }
  }
  c.finish();
  result.passed = result.failures.empty();
  return result;
}

}  // namespace

ConfigTestResult run_config_test(const std::string& path) {
  const ConfigNode root = ConfigNode::load_file(path);
  ConfigTestResult result;
  result.pipeline = root.get("pipeline").as_path();
  const auto env = root.maybe("env");
  std::map<std::string, TestKey> keys;
  if (auto k = root.maybe("keys")) keys = parse_keys(*k);
  const auto cases = root.get("cases");
  if (cases.items().empty()) cases.fail("a test file needs at least one case");
  root.maybe("description");
  root.finish();
  // Validate the pipeline once up front, so a broken pipeline is reported as such.
  {
    ScopedEnv scoped;
    if (env)
      for (const std::string& k : env->keys()) scoped.set(k, env->get(k).as_string());
    Registries reg = builtin_registries();
    Metrics metrics;
    load_pipeline(result.pipeline, reg, metrics);
  }
  for (const ConfigNode& c : cases.items())
    result.cases.push_back(run_case(c, result.pipeline, env, keys));
  return result;
}

int cmd_test(int argc, char** argv) {
  Args args("assay test PIPELINE_test.yaml",
            "Runs pipeline config tests: each case feeds its input records through the pipeline's\n"
            "operators (the pipeline's input and outputs are replaced by memory) and checks the\n"
            "records of each route. Exit 0 if every case passes, 1 if one fails, 2 if a test or\n"
            "pipeline file is malformed. Format: docs/config-tests.md.");
  args.positional("PIPELINE_test.yaml", "the test file");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  bool all = true;
  {
    const std::string file = args.get("PIPELINE_test.yaml");
    ConfigTestResult r;
    try {
      r = run_config_test(file);
    } catch (const ConfigError& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return kExitUsage;
    }
    for (const auto& c : r.cases) {
      std::printf("%s  %s: %s\n", c.passed ? "PASS" : "FAIL", file.c_str(), c.name.c_str());
      for (const auto& f : c.failures) std::printf("      %s\n", f.c_str());
    }
    all = all && r.passed();
  }
  std::fflush(stdout);
  return all ? kExitOk : kExitFailure;
}

}  // namespace assay::cli
