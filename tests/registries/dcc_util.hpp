#pragma once
// Helpers for the DCC tests: the test data folder, temporary directories, trust lists.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "registries/calibration_registry.hpp"

namespace assay::testing {

inline std::string dcc_data(const std::string& rel) {
  return std::string(ASSAY_SOURCE_DIR) + "/tests/data/dcc/" + rel;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

/// A temporary directory removed at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("assay-dcc-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

/// One X.509 lab entry of a trust list.
struct X509Lab {
  std::string lab_id, key_id, pem_path;
  std::string extra;  // more YAML lines (indented 4), e.g. "    revoked: true\n"
};

/// The two labs whose certificates the test data is signed with: the real Calibration Lab A1
/// of PTB's example DCCs, and the generated test lab (scripts/dev/gen-dcc-testdata.py).
inline X509Lab real_lab() {
  return {"calibration-lab-a1", "calibration-lab-a1-2021", dcc_data("real/calibration-lab-a1.pem"),
          ""};
}
inline X509Lab test_lab() {
  return {"D-K-99999-01", "assay-test-lab-2025", dcc_data("test-lab/lab-cert.pem"), ""};
}

inline std::string trust_yaml(const std::vector<X509Lab>& labs) {
  std::string y = "labs:\n";
  for (const auto& l : labs)
    y += "  - lab_id: " + l.lab_id + "\n    key_id: " + l.key_id +
         "\n    alg: X509\n    certificate_file: " + l.pem_path + "\n" + l.extra;
  return y;
}

/// Loads a trust list written from `labs`; fails the test on refused entries.
inline std::shared_ptr<const registries::TrustList> load_trust(const TempDir& dir,
                                                               const std::vector<X509Lab>& labs) {
  spit(dir / "labs.yaml", trust_yaml(labs));
  std::vector<std::string> refused;
  auto t = registries::load_trust_list(dir / "labs.yaml", refused);
  for (const auto& r : refused) ADD_FAILURE() << r;
  return t;
}

}  // namespace assay::testing
