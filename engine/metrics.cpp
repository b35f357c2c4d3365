#include "engine/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "engine/version.hpp"

namespace assay::engine {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

prometheus::Family<prometheus::Counter>& Metrics::counters(const std::string& name,
                                                           const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = counters_[name];
  if (slot == nullptr)
    slot = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  return *slot;
}

prometheus::Family<prometheus::Gauge>& Metrics::gauges(const std::string& name,
                                                       const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = gauges_[name];
  if (slot == nullptr) slot = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  return *slot;
}

prometheus::Family<prometheus::Histogram>& Metrics::histograms(const std::string& name,
                                                               const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = histograms_[name];
  if (slot == nullptr)
    slot = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  return *slot;
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer s;
  return s.Serialize(registry_->Collect());
}

const prometheus::Histogram::BucketBoundaries& Metrics::latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0};
  return b;
}

OperatorProbe::OperatorProbe(Metrics& metrics, const std::string& pipeline, const std::string& op)
    : metrics_(metrics), pipeline_(pipeline), op_(op) {
  const prometheus::Labels labels{{"pipeline", pipeline}, {"operator", op}};
  in_ =
      &metrics.counters("assay_operator_records_in_total", "Records that entered a pipeline stage")
           .Add(labels);
  out_ = &metrics.counters("assay_operator_records_out_total", "Records a pipeline stage passed on")
              .Add(labels);
  latency_ = &metrics
                  .histograms("assay_operator_batch_duration_seconds",
                              "Time a pipeline stage spent on one batch")
                  .Add(labels, Metrics::latency_buckets());
}

void OperatorProbe::batch(uint64_t in, uint64_t out, double seconds) {
  in_->Increment(static_cast<double>(in));
  out_->Increment(static_cast<double>(out));
  latency_->Observe(seconds);
}

void OperatorProbe::rejected(RejectCode code, uint64_t n) {
  if (n == 0) return;
  auto& slot = by_reason_[static_cast<size_t>(code)];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = &metrics_
             .counters("assay_operator_records_rejected_total",
                       "Records a pipeline stage sent to the rejected route, by reason")
             .Add({{"pipeline", pipeline_},
                   {"operator", op_},
                   {"reason", std::string(reject_code_name(code))}});
    slot.store(c, std::memory_order_release);
  }
  c->Increment(static_cast<double>(n));
  rejected_total_.fetch_add(n);
}

ConnectorProbe::ConnectorProbe(Metrics& metrics, const std::string& pipeline,
                               const std::string& connector, const std::string& role) {
  const prometheus::Labels labels{{"pipeline", pipeline}, {"connector", connector}, {"role", role}};
  records_ = &metrics
                  .counters("assay_connector_records_total",
                            "Records read by a source or written to a sink")
                  .Add(labels);
  errors_ = &metrics
                 .counters("assay_connector_errors_total",
                           "Failed reads, writes or deliveries of a source or sink")
                 .Add(labels);
  latency_ = &metrics
                  .histograms("assay_connector_batch_duration_seconds",
                              "Time a source or sink spent on one batch")
                  .Add(labels, Metrics::latency_buckets());
}

void ConnectorProbe::records(uint64_t n, double seconds) {
  records_->Increment(static_cast<double>(n));
  latency_->Observe(seconds);
}

void ConnectorProbe::error() {
  errors_->Increment();
}

ConfigProbe::ConfigProbe(Metrics& metrics) {
  auto& reloads = metrics.counters("assay_config_reloads_total",
                                   "Hot reloads of the pipeline configuration, by result");
  ok_ = &reloads.Add({{"result", "success"}});
  failed_ = &reloads.Add({{"result", "failure"}});
  last_ok_ = &metrics
                  .gauges("assay_config_last_reload_successful",
                          "1 if the last reload attempt succeeded (or none was made), else 0")
                  .Add({});
  last_ok_time_ = &metrics
                       .gauges("assay_config_last_reload_success_timestamp_seconds",
                               "Unix time of the last successful configuration load")
                       .Add({});
  info_ = &metrics.gauges("assay_config_info",
                          "The running configuration: 1 for its pipeline and config_sha256");
  last_ok_->Set(1);
  metrics.gauges("assay_build_info", "Version and build (git revision) of the running engine: 1")
      .Add({{"version", kVersion}, {"build", kBuildId}})
      .Set(1);
}

void ConfigProbe::loaded(const std::string& pipeline, const std::string& config_sha256_hex,
                         bool reload) {
  if (reload) ok_->Increment();
  last_ok_->Set(1);
  last_ok_time_->SetToCurrentTime();
  if (current_info_ != nullptr) info_->Remove(current_info_);
  current_info_ = &info_->Add({{"pipeline", pipeline}, {"config_sha256", config_sha256_hex}});
  current_info_->Set(1);
}

void ConfigProbe::reload_failed() {
  failed_->Increment();
  last_ok_->Set(0);
}

}  // namespace assay::engine
