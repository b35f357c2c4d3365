#pragma once
/// \file A verification plan (docs/metrology-cloud.md, "The plan"): which instruments, grouped
/// (one command topic per group), which test cases with reference value and MPE, which
/// decision rule, and when. Loaded strictly from YAML or JSON: an unknown key, an instrument
/// the identity registry does not know, an instrument in two groups, a duplicate id, a
/// non-finite number, an impossible MPE (zero, negative, relative >= 1, or — under the guarded
/// rule — not above the expanded uncertainty of the instrument's calibration certificate, so
/// that the instrument could never pass), a reference outside the instrument's measuring range
/// or a quantity/unit other than the instrument's is refused with file:line:column.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "operators/calibration.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_registry.hpp"

namespace assay::metrology {

/// One test case: apply a reference standard of this value; the instrument passes if its
/// corrected reading is within the MPE under the decision rule.
struct PlanCase {
  std::string id;
  double reference_value = 0;
  double mpe_absolute = 0;  ///< MPE = mpe_absolute + mpe_relative * |reference_value|
  double mpe_relative = 0;
  std::string quantity;  ///< empty: the instrument's (identity registry)
  std::string unit;      ///< empty: the instrument's
  std::string stimulus;  ///< free text for the gateway ("bath 20 Cel")
};

/// Instruments verified together: they get the same cases on one command topic.
struct PlanGroup {
  std::string id;             ///< [A-Za-z0-9._-]+, used in the command topic name
  std::string command_topic;  ///< empty: the operator's topic prefix + id
  std::vector<std::string> instruments;
  std::vector<PlanCase> cases;
};

/// When campaigns (runs of the plan) start.
struct PlanSchedule {
  std::optional<int64_t> start_ns;      ///< absolute start (UTC ns); none = start_delay after start
  int64_t start_delay_ms = 0;           ///< after the pipeline starts (when start_ns is not given)
  int64_t every_ms = 0;                 ///< period between campaigns (0 = one campaign)
  uint32_t repeat = 1;                  ///< number of campaigns (with every_ms)
  int64_t response_timeout_ms = 60000;  ///< deadline of every request after it is issued
};

/// A loaded, validated plan.
struct VerificationPlan {
  std::string id;
  std::string title;
  std::string authority;  ///< who orders the verification (market surveillance, notified body)
  std::array<uint8_t, 32> sha256{};  ///< of the plan file's bytes
  std::string file;
  operators::DecisionRule rule = operators::DecisionRule::kGuarded;
  std::vector<PlanGroup> groups;
  PlanSchedule schedule;
  /// Number of requests one campaign issues.
  size_t request_count() const;
};

/// Loads and validates a plan file against the identity registry and (optionally) the
/// calibration certificates valid at `now_ns`. Throws engine::ConfigError located in the plan
/// file (or at the file's name if it cannot be read).
VerificationPlan load_plan(const std::string& path, const registries::IdentityRegistry& identity,
                           const registries::CalibrationRegistry* calibration, int64_t now_ns);

/// The same from text (tests); `name` is the file name used in messages.
VerificationPlan parse_plan(const std::string& text, const std::string& name,
                            const registries::IdentityRegistry& identity,
                            const registries::CalibrationRegistry* calibration, int64_t now_ns);

}  // namespace assay::metrology
