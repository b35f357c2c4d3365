#pragma once
/// \file Reference data the registry and DCC fuzz targets check against: the TEST trust list
/// (the example lab's Ed25519 key and the DCC test labs' X.509 certificates, inline) and the
/// example identity registries, loaded once from the repository's test data.

#include <memory>
#include <string>

#include "fuzz/fuzz_util.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_registry.hpp"

namespace assay::fuzz {

/// Indents every line of `text` by `n` spaces (a YAML block scalar's content).
inline std::string indent(const std::string& text, int n) {
  std::string out, pad(static_cast<size_t>(n), ' ');
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += pad + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

/// The trust list: example-lab (Ed25519), the DCC test lab and PTB's example lab (X.509).
inline std::shared_ptr<const registries::TrustList> trust_list() {
  static const std::shared_ptr<const registries::TrustList> trust = [] {
    const std::string yaml =
        "labs:\n"
        "  - {lab_id: example-lab, key_id: example-lab-k1, alg: Ed25519,\n"
        "     public_key: \"17cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce\"}\n"
        "  - lab_id: D-K-99999-01\n    key_id: assay-test-lab-2025\n    alg: X509\n"
        "    certificate: |\n" +
        indent(read_source_file("tests/data/dcc/test-lab/lab-cert.pem"), 6) +
        "  - lab_id: calibration-lab-a1\n    key_id: calibration-lab-a1-2021\n    alg: X509\n"
        "    certificate: |\n" +
        indent(read_source_file("tests/data/dcc/real/calibration-lab-a1.pem"), 6);
    MemFile f("fuzz_trust");
    f.set(yaml);
    std::vector<std::string> refused;
    auto t = registries::load_trust_list(f.path(), refused);
    if (!refused.empty() || t->size() != 3) {
      std::fprintf(stderr, "fuzz: the trust list did not load (%zu refused)\n", refused.size());
      std::abort();
    }
    return t;
  }();
  return trust;
}

/// The example identity registries (examples/testdata/sensors.yaml and dcc-sensors.yaml) and
/// the sensors of the DCC test data (tests/data/dcc).
inline std::shared_ptr<const registries::IdentityRegistry> identity() {
  static const std::shared_ptr<const registries::IdentityRegistry> reg = [] {
    MemFile f("fuzz_identity");
    f.set(read_source_file("examples/testdata/sensors.yaml"));
    registries::RegistryLoadReport report;
    auto r = registries::load_identity_registry(f.path(), report);
    MemFile g("fuzz_identity_dcc");
    g.set(read_source_file("examples/testdata/dcc-sensors.yaml"));
    registries::RegistryLoadReport report2;
    auto d = registries::load_identity_registry(g.path(), report2);
    // The DCC test data's sensors, in kelvin (their DCCs state degrees Celsius: converted).
    std::string dcc_sensors = "sensors:\n";
    for (const char* n :
         {"constant-uncertainty", "good", "list-coverageIntervalMUXMLList",
          "list-coverageIntervalXMLList", "list-expandedMUXMLList", "list-expandedUncXMLList",
          "list-standardMUXMLList", "real-coverageInterval", "real-coverageIntervalMU",
          "real-expandedMU", "real-expandedUnc", "real-standardMU", "realList-expandedUnc",
          "realList-listUnivariateUnc"})
      dcc_sensors += std::string("  - {sensor_id: \"urn:assay:test:sensor:") + n +
                     "\", quantity: temperature, unit: K, keys: [{key_id: dcc-" + n +
                     ", alg: Ed25519, public_key: "
                     "\"d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737\"}]}\n";
    MemFile h("fuzz_identity_tests");
    h.set(dcc_sensors);
    registries::RegistryLoadReport report3;
    auto t = registries::load_identity_registry(h.path(), report3);
    if (!report2.refused.empty() || !report3.refused.empty() || t->sensor_count() != 14) std::abort();
    auto merged = std::make_shared<registries::IdentityRegistry>(*r);
    for (const auto& other : {d, t})
      other->for_each_sensor([&](const registries::SensorInfo& s) {
        std::vector<registries::SensorKey> keys;
        for (const auto& k : s.key_ids)
          if (const auto* key = other->find_key(k)) keys.push_back(*key);
        merged->put(s, std::move(keys));
      });
    return merged;
  }();
  return reg;
}

}  // namespace assay::fuzz
