#include "registries/certificates_yaml.hpp"

#include <yaml.h>

#include <charconv>
#include <cmath>
#include <deque>
#include <memory>
#include <unordered_set>

#include "engine/bytes.hpp"
#include "engine/time.hpp"

namespace assay::registries {

namespace {

// Thrown (inside this file only) to decline a document: the ConfigNode path decides.
struct Decline {};

struct Node {
  enum Kind : uint8_t { kScalar, kMap, kSeq } kind = kScalar;
  bool plain = true;
  int line = 0, column = 0;  // 1-based
  std::string value;
  std::vector<std::pair<std::string, Node>> map;
  std::vector<Node> seq;

  const Node* find(std::string_view key) const {
    for (const auto& [k, v] : map)
      if (k == key) return &v;
    return nullptr;
  }
};

class Events {
 public:
  explicit Events(std::string_view text) {
    yaml_parser_initialize(&p_);
    yaml_parser_set_input_string(&p_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~Events() {
    if (has_) yaml_event_delete(&e_);
    yaml_parser_delete(&p_);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  const yaml_event_t& next() {
    if (has_) yaml_event_delete(&e_);
    has_ = false;
    if (!yaml_parser_parse(&p_, &e_)) throw Decline{};  // a syntax error: ConfigNode reports it
    has_ = true;
    return e_;
  }
  const yaml_event_t& current() const { return e_; }

 private:
  yaml_parser_t p_{};
  yaml_event_t e_{};
  bool has_ = false;
};

// The node whose first event is `ev` (already read).
Node build(Events& in, const yaml_event_t& ev) {
  Node n;
  n.line = static_cast<int>(ev.start_mark.line) + 1;
  n.column = static_cast<int>(ev.start_mark.column) + 1;
  switch (ev.type) {
    case YAML_SCALAR_EVENT: {
      if (ev.data.scalar.anchor != nullptr ||
          (ev.data.scalar.tag != nullptr && !ev.data.scalar.plain_implicit &&
           !ev.data.scalar.quoted_implicit))
        throw Decline{};
      n.kind = Node::kScalar;
      n.plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      n.value.assign(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
      if (n.value.find("${") != std::string::npos) throw Decline{};  // env interpolation
      return n;
    }
    case YAML_MAPPING_START_EVENT: {
      if (ev.data.mapping_start.anchor != nullptr || !ev.data.mapping_start.implicit)
        throw Decline{};
      n.kind = Node::kMap;
      for (;;) {
        const yaml_event_t& k = in.next();
        if (k.type == YAML_MAPPING_END_EVENT) return n;
        Node key = build(in, k);
        if (key.kind != Node::kScalar || key.value == "<<" || n.find(key.value) != nullptr)
          throw Decline{};  // complex key, merge key, duplicate key
        const yaml_event_t& v = in.next();
        n.map.emplace_back(std::move(key.value), build(in, v));
      }
    }
    case YAML_SEQUENCE_START_EVENT: {
      if (ev.data.sequence_start.anchor != nullptr || !ev.data.sequence_start.implicit)
        throw Decline{};
      n.kind = Node::kSeq;
      for (;;) {
        const yaml_event_t& v = in.next();
        if (v.type == YAML_SEQUENCE_END_EVENT) return n;
        n.seq.push_back(build(in, v));
      }
    }
    default:
      throw Decline{};  // aliases
  }
}

// ---- values, accepted exactly where parse_certificate accepts them --------------------

bool null_like(const Node& n) {
  return n.plain && (n.value.empty() || n.value == "~" || n.value == "null" || n.value == "Null" ||
                     n.value == "NULL");
}

const std::string& str(const Node* n) {
  if (n == nullptr || n->kind != Node::kScalar || null_like(*n)) throw Decline{};
  return n->value;
}

const std::string& nonempty(const Node* n) {
  const std::string& s = str(n);
  if (s.empty()) throw Decline{};
  return s;
}

// Plain decimal: -?digits[.digits][(e|E)[+-]digits]; anything else goes the slow way.
double number(const Node* n) {
  const std::string& s = str(n);
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const size_t d0 = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == d0) throw Decline{};
  if (i < s.size() && s[i] == '.') {
    const size_t f0 = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == f0) throw Decline{};
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t e0 = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == e0) throw Decline{};
  }
  if (i != s.size()) throw Decline{};
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) throw Decline{};
  return v;
}

int64_t time_of(const Node* n) {
  auto t = engine::parse_rfc3339(str(n));
  if (!t) throw Decline{};
  return *t;
}

const Node& map_of(const Node* n) {
  if (n == nullptr || n->kind != Node::kMap) throw Decline{};
  return *n;
}

void only(const Node& m, std::initializer_list<std::string_view> keys) {
  for (const auto& [k, v] : m.map) {
    bool known = false;
    for (auto key : keys) known = known || k == key;
    if (!known) throw Decline{};  // unknown key: ConfigNode's finish() refuses it
  }
}

Mpe mpe_of(const Node* n) {
  const Node& m = map_of(n);
  only(m, {"absolute", "relative"});
  Mpe out;
  if (const Node* a = m.find("absolute")) out.absolute = number(a);
  if (const Node* r = m.find("relative")) out.relative = number(r);
  if (out.absolute < 0 || out.relative < 0) throw Decline{};
  return out;
}

CalibrationCertificate certificate(const Node& n) {
  if (n.kind != Node::kMap) throw Decline{};
  only(n, {"certificate_id", "sensor_id", "lab_id", "issue_date", "valid_from", "valid_until",
           "quantity", "unit", "correction", "expanded_uncertainty", "coverage_factor", "mpe",
           "measuring_range", "conformity", "lab_key_id", "signature_alg", "signature"});
  CalibrationCertificate c;
  c.certificate_id = nonempty(n.find("certificate_id"));
  c.sensor_id = nonempty(n.find("sensor_id"));
  c.lab_id = nonempty(n.find("lab_id"));
  c.valid_from_ns = time_of(n.find("valid_from"));
  c.valid_until_ns = time_of(n.find("valid_until"));
  c.issue_date_ns =
      n.find("issue_date") != nullptr ? time_of(n.find("issue_date")) : c.valid_from_ns;
  if (c.valid_until_ns < c.valid_from_ns) throw Decline{};
  c.quantity = nonempty(n.find("quantity"));
  c.unit = nonempty(n.find("unit"));
  if (const Node* cn = n.find("correction")) {
    const Node& m = map_of(cn);
    only(m, {"offset", "gain", "poly"});
    if (const Node* o = m.find("offset")) c.correction.offset = number(o);
    if (const Node* g = m.find("gain")) c.correction.gain = number(g);
    if (const Node* p = m.find("poly")) {
      if (p->kind != Node::kSeq) throw Decline{};
      for (const Node& item : p->seq) c.correction.poly.push_back(number(&item));
    }
    if (c.correction.gain == 0) throw Decline{};
  }
  c.expanded_uncertainty = number(n.find("expanded_uncertainty"));
  if (c.expanded_uncertainty < 0) throw Decline{};
  c.coverage_factor = number(n.find("coverage_factor"));
  if (c.coverage_factor <= 0) throw Decline{};
  const Node& mpe = map_of(n.find("mpe"));
  only(mpe, {"initial", "in_service"});
  c.mpe_in_service = mpe_of(mpe.find("in_service"));
  c.mpe_initial = mpe.find("initial") != nullptr ? mpe_of(mpe.find("initial")) : c.mpe_in_service;
  const Node& range = map_of(n.find("measuring_range"));
  only(range, {"min", "max"});
  c.range_min = number(range.find("min"));
  c.range_max = number(range.find("max"));
  if (c.range_min > c.range_max) throw Decline{};
  if (const Node* cf = n.find("conformity")) c.conformity = str(cf);
  c.lab_key_id = nonempty(n.find("lab_key_id"));
  if (const Node* a = n.find("signature_alg")) c.signature_alg = str(a);
  if (const Node* s = n.find("signature")) {
    if (s->kind != Node::kScalar) throw Decline{};
    if (!null_like(*s)) {
      auto bytes = engine::from_hex(s->value);
      if (!bytes) throw Decline{};
      c.signature = std::move(*bytes);
    }
  }
  return c;
}

}  // namespace

std::optional<std::vector<LocatedCertificate>> parse_certificates_fast(std::string_view text) {
  try {
    Events in(text);
    if (in.next().type != YAML_STREAM_START_EVENT) return std::nullopt;
    const yaml_event_t& doc = in.next();
    if (doc.type != YAML_DOCUMENT_START_EVENT) return std::nullopt;
    const yaml_event_t& root_ev = in.next();
    if (root_ev.type != YAML_MAPPING_START_EVENT || root_ev.data.mapping_start.anchor != nullptr)
      return std::nullopt;
    // The root: exactly one key, certificates, whose items are read one at a time.
    const yaml_event_t& key = in.next();
    if (key.type != YAML_SCALAR_EVENT || key.data.scalar.anchor != nullptr ||
        std::string_view(reinterpret_cast<const char*>(key.data.scalar.value),
                         key.data.scalar.length) != "certificates")
      return std::nullopt;
    const yaml_event_t& seq = in.next();
    if (seq.type != YAML_SEQUENCE_START_EVENT || seq.data.sequence_start.anchor != nullptr ||
        !seq.data.sequence_start.implicit)
      return std::nullopt;
    std::vector<LocatedCertificate> out;
    std::unordered_set<std::string> ids;
    for (;;) {
      const yaml_event_t& ev = in.next();
      if (ev.type == YAML_SEQUENCE_END_EVENT) break;
      const Node item = build(in, ev);
      LocatedCertificate lc{certificate(item), item.line, item.column};
      if (!ids.insert(lc.cert.certificate_id).second) return std::nullopt;  // duplicate id
      out.push_back(std::move(lc));
    }
    if (in.next().type != YAML_MAPPING_END_EVENT) return std::nullopt;
    if (in.next().type != YAML_DOCUMENT_END_EVENT) return std::nullopt;
    if (in.next().type != YAML_STREAM_END_EVENT) return std::nullopt;  // one document only
    return out;
  } catch (const Decline&) {
    return std::nullopt;
  }
}

}  // namespace assay::registries
