#include "metrology/plan.hpp"

#include <cmath>
#include <map>
#include <set>

#include "crypto/sha256.hpp"
#include "engine/config.hpp"
#include "engine/time.hpp"

namespace assay::metrology {

namespace {

using engine::ConfigNode;

constexpr size_t kMaxPlanBytes = 64 << 20;
constexpr int64_t kMaxTimeoutMs = 7LL * 86'400'000;

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

double finite(const ConfigNode& n) {
  const double v = n.as_double();
  if (!std::isfinite(v)) n.fail("must be a finite number");
  return v;
}

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

PlanCase parse_case(const ConfigNode& c) {
  PlanCase k;
  k.id = c.get("id").as_string();
  if (!valid_id(k.id)) c.get("id").fail("a case id is 1..200 of [A-Za-z0-9._-]");
  k.reference_value = finite(c.get("reference_value"));
  const ConfigNode mpe = c.get("mpe");
  if (mpe.is_map()) {
    if (auto a = mpe.maybe("absolute")) k.mpe_absolute = finite(*a);
    if (auto r = mpe.maybe("relative")) k.mpe_relative = finite(*r);
    mpe.finish();
  } else {
    k.mpe_absolute = finite(mpe);
  }
  if (k.mpe_absolute < 0 || k.mpe_relative < 0) mpe.fail("impossible MPE: it must not be negative");
  if (k.mpe_relative >= 1)
    mpe.fail("impossible MPE: a relative MPE of 100 % or more accepts any reading");
  if (k.mpe_absolute == 0 && k.mpe_relative == 0)
    mpe.fail("impossible MPE: zero (no reading with any uncertainty can pass)");
  k.quantity = c.get_string("quantity", "");
  k.unit = c.get_string("unit", "");
  k.stimulus = c.get_string("stimulus", "");
  c.finish();
  return k;
}

// Checks the group's cases against each instrument: measurand, measuring range and (guarded
// rule) that the MPE can be met at all given the calibration's expanded uncertainty.
void check_instrument(const ConfigNode& where, const std::string& id, const PlanGroup& g,
                      const std::vector<ConfigNode>& case_nodes,
                      const registries::IdentityRegistry& identity,
                      const registries::CalibrationRegistry* calibration,
                      operators::DecisionRule rule, int64_t now_ns) {
  const registries::SensorInfo* info = identity.find_sensor(id);
  if (info == nullptr) where.fail("unknown instrument '" + id + "': not in the identity registry");
  registries::CertLookup cert;
  if (calibration != nullptr) cert = calibration->lookup(id, now_ns);
  for (size_t i = 0; i < g.cases.size(); ++i) {
    const PlanCase& k = g.cases[i];
    const ConfigNode& cn = case_nodes[i];
    if (!k.quantity.empty() && !info->quantity.empty() && k.quantity != info->quantity)
      cn.get("quantity")
          .fail("instrument '" + id + "' measures " + info->quantity + ", not " + k.quantity);
    if (!k.unit.empty() && !info->unit.empty() && k.unit != info->unit)
      cn.get("unit").fail("instrument '" + id + "' reports in " + info->unit + ", not " + k.unit);
    if ((info->range_min && k.reference_value < *info->range_min) ||
        (info->range_max && k.reference_value > *info->range_max))
      cn.get("reference_value")
          .fail("reference " + fmt(k.reference_value) +
                " is outside the measuring range of "
                "instrument '" +
                id + "' [" + fmt(info->range_min.value_or(-INFINITY)) + ", " +
                fmt(info->range_max.value_or(INFINITY)) + "]");
    if (cert.status != registries::CertStatus::kValid || cert.hot == nullptr) continue;
    const registries::HotCertificate& h = *cert.hot;
    if (k.reference_value < h.range_min || k.reference_value > h.range_max)
      cn.get("reference_value")
          .fail("reference " + fmt(k.reference_value) + " is outside the calibrated range [" +
                fmt(h.range_min) + ", " + fmt(h.range_max) + "] of certificate '" +
                std::string(cert.stable_id) + "' of instrument '" + id + "'");
    const double mpe = k.mpe_absolute + k.mpe_relative * std::fabs(k.reference_value);
    if (rule == operators::DecisionRule::kGuarded && mpe <= h.expanded_uncertainty)
      cn.get("mpe").fail("impossible MPE: " + fmt(mpe) +
                         " at the reference does not exceed the "
                         "expanded uncertainty U = " +
                         fmt(h.expanded_uncertainty) + " of certificate '" +
                         std::string(cert.stable_id) + "' of instrument '" + id +
                         "'; under the guarded decision rule (|e| + U <= MPE) it could never pass");
  }
}

}  // namespace

size_t VerificationPlan::request_count() const {
  size_t n = 0;
  for (const PlanGroup& g : groups) n += g.instruments.size() * g.cases.size();
  return n;
}

VerificationPlan parse_plan(const std::string& text, const std::string& name,
                            const registries::IdentityRegistry& identity,
                            const registries::CalibrationRegistry* calibration, int64_t now_ns) {
  const ConfigNode root = ConfigNode::load_string(text, name);
  if (!root.is_map()) root.fail("a verification plan is a map with keys plan, groups, schedule");
  VerificationPlan p;
  p.file = name;
  p.sha256 = crypto::sha256(std::string_view(text));
  const ConfigNode head = root.get("plan");
  p.id = head.get("id").as_string();
  if (!valid_id(p.id)) head.get("id").fail("a plan id is 1..200 of [A-Za-z0-9._-]");
  p.title = head.get_string("title", "");
  p.authority = head.get_string("authority", "");
  if (auto r = head.maybe("decision_rule")) {
    const std::string s = r->as_string();
    if (s == "guarded")
      p.rule = operators::DecisionRule::kGuarded;
    else if (s == "simple")
      p.rule = operators::DecisionRule::kSimple;
    else
      r->fail("unknown decision_rule '" + s + "' (guarded, simple)");
  }
  head.finish();

  const ConfigNode groups = root.get("groups");
  if (!groups.is_sequence() || groups.items().empty()) groups.fail("needs at least one group");
  std::map<std::string, std::string> instrument_group;  // instrument -> group id
  std::set<std::string> group_ids;
  for (const ConfigNode& gn : groups.items()) {
    PlanGroup g;
    g.id = gn.get("id").as_string();
    if (!valid_id(g.id)) gn.get("id").fail("a group id is 1..200 of [A-Za-z0-9._-]");
    if (!group_ids.insert(g.id).second) gn.get("id").fail("group '" + g.id + "' appears twice");
    g.command_topic = gn.get_string("command_topic", "");
    const ConfigNode cases = gn.get("cases");
    if (!cases.is_sequence() || cases.items().empty()) cases.fail("needs at least one case");
    std::vector<ConfigNode> case_nodes = cases.items();
    std::set<std::string> case_ids;
    for (const ConfigNode& cn : case_nodes) {
      g.cases.push_back(parse_case(cn));
      if (!case_ids.insert(g.cases.back().id).second)
        cn.get("id").fail("case '" + g.cases.back().id + "' appears twice in group '" + g.id + "'");
    }
    const ConfigNode inst = gn.get("instruments");
    if (!inst.is_sequence() || inst.items().empty()) inst.fail("needs at least one instrument");
    for (const ConfigNode& in : inst.items()) {
      const std::string id = in.as_string();
      if (id.empty()) in.fail("must not be empty");
      auto [it, fresh] = instrument_group.emplace(id, g.id);
      if (!fresh)
        in.fail("instrument '" + id + "' is already in group '" + it->second +
                "' (one instrument, one group)");
      check_instrument(in, id, g, case_nodes, identity, calibration, p.rule, now_ns);
      g.instruments.push_back(id);
    }
    gn.finish();
    p.groups.push_back(std::move(g));
  }

  if (auto s = root.maybe("schedule")) {
    PlanSchedule& sc = p.schedule;
    if (auto st = s->maybe("start")) {
      const std::string v = st->as_string();
      if (v != "now") {
        const auto t = engine::parse_rfc3339(v);
        if (!t) st->fail("expected `now` or an RFC 3339 time, got '" + v + "'");
        sc.start_ns = *t;
      }
    }
    sc.start_delay_ms = s->get_int("start_delay_ms", 0, 0, kMaxTimeoutMs);
    sc.every_ms = s->get_int("every_ms", 0, 0, 366LL * 86'400'000);
    sc.repeat = static_cast<uint32_t>(s->get_int("repeat", 1, 1, 1'000'000));
    sc.response_timeout_ms = s->get_int("response_timeout_ms", 60000, 100, kMaxTimeoutMs);
    if (sc.repeat > 1 && sc.every_ms == 0)
      s->get("repeat").fail("repeated campaigns need `every_ms`");
    if (sc.every_ms > 0 && sc.every_ms <= sc.response_timeout_ms)
      s->get("every_ms")
          .fail("campaigns must not overlap: every_ms must exceed response_timeout_ms");
    if (sc.start_ns && sc.start_delay_ms != 0)
      s->get("start_delay_ms").fail("give either `start` (a time) or `start_delay_ms`");
    s->finish();
  }
  root.finish();
  return p;
}

VerificationPlan load_plan(const std::string& path, const registries::IdentityRegistry& identity,
                           const registries::CalibrationRegistry* calibration, int64_t now_ns) {
  std::string text, error;
  if (!engine::read_regular_file(path, kMaxPlanBytes, text, error))
    throw engine::ConfigError(path, 0, 0, "", "cannot read the verification plan: " + error);
  return parse_plan(text, path, identity, calibration, now_ns);
}

}  // namespace assay::metrology
