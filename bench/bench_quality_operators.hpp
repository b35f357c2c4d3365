#pragma once
// The operators of examples/quality.yaml (calibration, anomaly, drift) over a simulated bench
// fleet, shared by the pipeline benchmarks that measure something on top of them.
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/runner.hpp"
#include "operators/anomaly.hpp"
#include "operators/calibration.hpp"
#include "operators/drift.hpp"

namespace assay::benchdata {

/// Appends calibration, anomaly and drift, configured as examples/quality.yaml, for the fleet
/// the simulator wrote to `fleet_dir` (sensors.yaml, certificates.yaml, labs.yaml), to `p`.
inline void add_quality_operators(engine::Pipeline& p, engine::Metrics& metrics,
                                  const std::string& fleet_dir) {
  const std::string& dir = fleet_dir;
  const std::string yaml = "- certificates: " + dir + "/certificates.yaml\n" + "  trust: " + dir +
                           "/labs.yaml\n" + "  registry: " + dir + "/sensors.yaml\n" +
                           "  reject: [no_certificate, certificate_expired, "
                           "certificate_not_yet_valid, outside_measuring_range, "
                           "quantity_mismatch, unit_mismatch, firmware_not_approved]\n" +
                           "- registry: " + dir + "/sensors.yaml\n" +
                           "  rate_limit: {rate: 0}\n"
                           "  clock_skew_tolerance_ms: 31536000000\n"
                           "- registry: " +
                           dir + "/sensors.yaml\n";
  const auto ops = engine::ConfigNode::load_string(yaml, "bench-quality.yaml").items();
  engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext ctx{p.info, metrics, p.engine, services, warnings};
  p.operators.push_back(operators::Calibration::from_config(ops[0], ctx));
  p.operators.push_back(operators::Anomaly::from_config(ops[1], ctx));
  p.operators.push_back(operators::Drift::from_config(ops[2], ctx));
  p.stage_names.insert(p.stage_names.end(), {"calibration", "anomaly", "drift"});
}

}  // namespace assay::benchdata
