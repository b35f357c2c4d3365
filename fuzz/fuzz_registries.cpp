// Fuzz target: the identity and calibration registries (registries/identity_registry.*,
// registries/calibration_registry.*) in YAML and JSON, through engine::ConfigNode. The first
// byte picks what the rest is:
//   0: an identity registry file          (load_identity_registry)
//   1: a trust list                       (load_trust_list)
//   2: a certificates file                (load_certificates_file; a DCC if it is XML)
//   3: one registry-topic message, read both as a sensor entry (parse_sensor_entry) and as a
//      certificate (load_certificate), named as a Kafka position
// bit 2 names message inputs "*.json" (strict JSON). Files are memfds (no disk). A bad input
// must end in engine::ConfigError or a refusal; any other exception is a finding. A parsed
// certificate must survive to_yaml() and parsing again with the same canonical bytes.
#include <string>

#include "fuzz/fuzz_util.hpp"
#include "fuzz/fuzz_world.hpp"
#include "registries/calibration_certificate.hpp"

using namespace assay;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  (void)fuzz::trust_list();
  (void)fuzz::identity();
  return 0;
}

namespace {

void walk(const engine::ConfigNode& n, int depth) {
  if (depth > 6) return;
  (void)n.location();
  if (n.is_map()) {
    for (const auto& [k, v] : n.entries()) walk(v, depth + 1);
  } else if (n.is_sequence()) {
    for (const auto& v : n.items()) walk(v, depth + 1);
  }
}

void round_trip(const registries::CalibrationCertificate& c) {
  const std::string yaml = registries::to_yaml({c});
  try {
    const auto root = engine::ConfigNode::load_string(yaml, "round-trip.yaml");
    const auto items = root.get("certificates").items();
    fuzz::check(items.size() == 1, "to_yaml wrote not one certificate");
    const auto again = registries::parse_certificate(items[0]);
    fuzz::check(registries::canonical_bytes(again) == registries::canonical_bytes(c),
                "a certificate changes through to_yaml");
  } catch (const engine::ConfigError& e) {
    std::fprintf(stderr, "%s\n--- from ---\n%s\n", e.what(), yaml.c_str());
    fuzz::check(false, "to_yaml wrote a certificate that does not parse");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t policy = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  static fuzz::MemFile file("fuzz_registry");
  const auto& trust = *fuzz::trust_list();
  try {
    switch (policy & 3) {
      case 0: {
        file.set(text);
        registries::RegistryLoadReport report;
        const auto reg = registries::load_identity_registry(file.path(), report);
        fuzz::check(reg->sensor_count() == report.sensors, "identity report miscounts sensors");
        break;
      }
      case 1: {
        file.set(text);
        std::vector<std::string> refused;
        (void)registries::load_trust_list(file.path(), refused);
        break;
      }
      case 2: {
        file.set(text);
        registries::CertificatesLoadReport report;
        const auto certs =
            registries::load_certificates_file(file.path(), trust, report, fuzz::identity().get());
        fuzz::check(certs.size() == report.loaded, "certificates report miscounts");
        for (const auto& c : certs) round_trip(c);
        break;
      }
      default: {
        const auto node = engine::ConfigNode::load_string(
            text, (policy & 4) ? "message.json" : "kafka:registry/0@7");
        walk(node, 0);
        registries::RegistryLoadReport report;
        try {
          (void)registries::parse_sensor_entry(node, report);
        } catch (const engine::ConfigError&) {
        }
        const auto outcome = registries::load_certificate(node, trust);
        fuzz::check(outcome.cert.has_value() != outcome.refused.has_value(),
                    "a certificate neither loads nor is refused");
        try {
          round_trip(registries::parse_certificate(node));
        } catch (const engine::ConfigError&) {
        }
        break;
      }
    }
  } catch (const engine::ConfigError&) {
  }
  return 0;
}
