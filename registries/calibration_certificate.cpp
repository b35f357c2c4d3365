#include "registries/calibration_certificate.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "connectors/record_json.hpp"
#include "engine/time.hpp"

namespace assay::registries {

namespace {

void line(std::string& o, std::string_view name, std::string_view value) {
  o.append(name);
  o.push_back('=');
  for (char c : value) {
    if (c == '\n') {
      o.append("\\n");
    } else if (c == '\\') {
      o.append("\\\\");
    } else {
      o.push_back(c);
    }
  }
  o.push_back('\n');
}

std::string g17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string i64(int64_t v) { return std::to_string(v); }

bool is_plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '/' || c == '-' || c == '+';
}

bool is_reserved_word(std::string_view s) {
  static constexpr std::string_view kWords[] = {"true", "false", "yes", "no", "on", "off",
                                                "null", "y", "n", "nan", "inf"};
  for (auto w : kWords) {
    if (w.size() != s.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < s.size() && eq; ++i) {
      char c = s[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      eq = c == w[i];
    }
    if (eq) return true;
  }
  return false;
}

}  // namespace

std::string yaml_scalar(std::string_view s) {
  const bool start_ok = !s.empty() && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                                        s[0] == '/' || s.starts_with("./") || s.starts_with("../"));
  bool plain = start_ok && !is_reserved_word(s) && s.back() != ':';
  for (size_t i = 0; plain && i < s.size(); ++i) plain = is_plain_char(s[i]);
  if (plain) return std::string(s);
  // A JSON string is a valid YAML double-quoted scalar.
  std::string out;
  connectors::append_json_string(out, s);
  return out;
}

std::string yaml_double(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string canonical_bytes(const CalibrationCertificate& c) {
  std::string o = "assay-calibration-certificate-v1\n";
  line(o, "certificate_id", c.certificate_id);
  line(o, "sensor_id", c.sensor_id);
  line(o, "lab_id", c.lab_id);
  line(o, "issue_date_ns", i64(c.issue_date_ns));
  line(o, "valid_from_ns", i64(c.valid_from_ns));
  line(o, "valid_until_ns", i64(c.valid_until_ns));
  line(o, "quantity", c.quantity);
  line(o, "unit", c.unit);
  line(o, "correction.offset", g17(c.correction.offset));
  line(o, "correction.gain", g17(c.correction.gain));
  std::string poly;
  for (size_t i = 0; i < c.correction.poly.size(); ++i) {
    if (i != 0) poly.push_back(',');
    poly += g17(c.correction.poly[i]);
  }
  line(o, "correction.poly", poly);
  line(o, "expanded_uncertainty", g17(c.expanded_uncertainty));
  line(o, "coverage_factor", g17(c.coverage_factor));
  line(o, "mpe_initial.absolute", g17(c.mpe_initial.absolute));
  line(o, "mpe_initial.relative", g17(c.mpe_initial.relative));
  line(o, "mpe_in_service.absolute", g17(c.mpe_in_service.absolute));
  line(o, "mpe_in_service.relative", g17(c.mpe_in_service.relative));
  line(o, "range_min", g17(c.range_min));
  line(o, "range_max", g17(c.range_max));
  line(o, "conformity", c.conformity);
  line(o, "lab_key_id", c.lab_key_id);
  line(o, "signature_alg", c.signature_alg);
  return o;
}

std::string to_yaml(const std::vector<CalibrationCertificate>& certs) {
  std::string o = "certificates:\n";
  if (certs.empty()) return "certificates: []\n";
  for (const auto& c : certs) {
    o += "  - certificate_id: " + yaml_scalar(c.certificate_id) + "\n";
    o += "    sensor_id: " + yaml_scalar(c.sensor_id) + "\n";
    o += "    lab_id: " + yaml_scalar(c.lab_id) + "\n";
    o += "    issue_date: " + engine::format_rfc3339(c.issue_date_ns) + "\n";
    o += "    valid_from: " + engine::format_rfc3339(c.valid_from_ns) + "\n";
    o += "    valid_until: " + engine::format_rfc3339(c.valid_until_ns) + "\n";
    o += "    quantity: " + yaml_scalar(c.quantity) + "\n";
    o += "    unit: " + yaml_scalar(c.unit) + "\n";
    o += "    correction: {offset: " + yaml_double(c.correction.offset) +
         ", gain: " + yaml_double(c.correction.gain) + ", poly: [";
    for (size_t i = 0; i < c.correction.poly.size(); ++i) {
      if (i != 0) o += ", ";
      o += yaml_double(c.correction.poly[i]);
    }
    o += "]}\n";
    o += "    expanded_uncertainty: " + yaml_double(c.expanded_uncertainty) + "\n";
    o += "    coverage_factor: " + yaml_double(c.coverage_factor) + "\n";
    o += "    mpe:\n";
    o += "      initial: {absolute: " + yaml_double(c.mpe_initial.absolute) +
         ", relative: " + yaml_double(c.mpe_initial.relative) + "}\n";
    o += "      in_service: {absolute: " + yaml_double(c.mpe_in_service.absolute) +
         ", relative: " + yaml_double(c.mpe_in_service.relative) + "}\n";
    o += "    measuring_range: {min: " + yaml_double(c.range_min) + ", max: " + yaml_double(c.range_max) +
         "}\n";
    o += "    conformity: " + yaml_scalar(c.conformity) + "\n";
    o += "    lab_key_id: " + yaml_scalar(c.lab_key_id) + "\n";
    o += "    signature_alg: " + yaml_scalar(c.signature_alg) + "\n";
    std::string hex;
    connectors::append_hex(hex, c.signature);
    o += "    signature: \"" + hex + "\"\n";
  }
  return o;
}

}  // namespace assay::registries
