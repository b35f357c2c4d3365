#pragma once
/// \file Metrics (prometheus-cpp) and the probe objects that own each component's metrics.
/// Names follow Prometheus conventions: `assay_` prefix, `_total` counters, `_seconds`.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/reject.hpp"

namespace assay::engine {

/// The process's metric registry; families are created once and shared by name.
class Metrics {
 public:
  Metrics();
  /// The underlying registry (for exposition).
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  /// A counter family (created on first use).
  prometheus::Family<prometheus::Counter>& counters(const std::string& name,
                                                    const std::string& help);
  /// A gauge family (created on first use).
  prometheus::Family<prometheus::Gauge>& gauges(const std::string& name, const std::string& help);
  /// A histogram family (created on first use).
  prometheus::Family<prometheus::Histogram>& histograms(const std::string& name,
                                                        const std::string& help);
  /// Text exposition format of every metric.
  std::string serialize() const;
  /// Latency buckets in seconds (10 µs .. ~10 s).
  static const prometheus::Histogram::BucketBoundaries& latency_buckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_;
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms_;
};

/// Metrics of one pipeline stage (an operator, decode, or the output stage): records in/out,
/// rejections by reason, and batch latency. Labels: pipeline, operator.
class OperatorProbe {
 public:
  OperatorProbe(Metrics& metrics, const std::string& pipeline, const std::string& op);
  /// Accounts one processed batch.
  void batch(uint64_t in, uint64_t out, double seconds);
  /// Accounts `n` rows rejected for `code`.
  void rejected(RejectCode code, uint64_t n);
  /// Total rows rejected (all reasons), for tests and summaries.
  uint64_t rejected_total() const { return rejected_total_.load(); }

 private:
  Metrics& metrics_;
  std::string pipeline_, op_;
  prometheus::Counter* in_;
  prometheus::Counter* out_;
  prometheus::Histogram* latency_;
  std::array<std::atomic<prometheus::Counter*>, static_cast<size_t>(RejectCode::kCount_)>
      by_reason_{};
  std::atomic<uint64_t> rejected_total_{0};
};

/// Metrics of one source or sink: records through it, errors, and time per batch.
/// Labels: pipeline, connector (e.g. "kafka:sensors.raw"), role (source, or the route name).
class ConnectorProbe {
 public:
  ConnectorProbe(Metrics& metrics, const std::string& pipeline, const std::string& connector,
                 const std::string& role);
  /// Accounts `n` records handled in `seconds`.
  void records(uint64_t n, double seconds);
  /// Accounts one error (a failed read, write or delivery).
  void error();

 private:
  prometheus::Counter* records_;
  prometheus::Counter* errors_;
  prometheus::Histogram* latency_;
};

/// Metrics of configuration loads and hot reloads (Prometheus-server style):
/// assay_config_reloads_total{result="success"|"failure"}, assay_config_last_reload_successful,
/// assay_config_last_reload_success_timestamp_seconds and assay_config_info{pipeline,
/// config_sha256} = 1 for the configuration that is running.
class ConfigProbe {
 public:
  explicit ConfigProbe(Metrics& metrics);
  /// A configuration is running (first load or successful reload).
  void loaded(const std::string& pipeline, const std::string& config_sha256_hex, bool reload);
  /// A reload was refused; the running configuration stays.
  void reload_failed();

 private:
  prometheus::Counter* ok_;
  prometheus::Counter* failed_;
  prometheus::Gauge* last_ok_;
  prometheus::Gauge* last_ok_time_;
  prometheus::Family<prometheus::Gauge>* info_;
  prometheus::Gauge* current_info_ = nullptr;
};

}  // namespace assay::engine
