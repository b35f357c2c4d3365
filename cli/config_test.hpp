#pragma once
/// \file Pipeline config tests (`assay test PIPELINE_test.yaml`): feed records described in a
/// test file through a pipeline's operators and check the records that come out of each route,
/// in the manner of Benthos/Vector config tests. The pipeline's own input and outputs are
/// replaced by in-memory ones; everything else (operators, registries, engine settings) is
/// exactly what the pipeline file configures. See docs/config-tests.md for the format.

#include <string>
#include <vector>

namespace assay::cli {

/// Outcome of one test case.
struct ConfigCaseResult {
  std::string name;
  bool passed = false;
  /// One line per mismatch ("trusted[0].signature_verdict: expected Valid, got BadSignature").
  std::vector<std::string> failures;
};

/// Outcome of a test file.
struct ConfigTestResult {
  std::string pipeline;  ///< the pipeline file that was tested
  std::vector<ConfigCaseResult> cases;
  /// True if every case passed.
  bool passed() const;
};

/// Runs every case of the test file at `path`. Throws ConfigError (file:line:column and key)
/// for a malformed test file or a pipeline that does not load.
ConfigTestResult run_config_test(const std::string& path);

/// `assay test FILE...`: runs config test files; exit 0 if all pass, 1 if any case fails,
/// 2 for a malformed test or pipeline file.
int cmd_test(int argc, char** argv);

}  // namespace assay::cli
