#pragma once
// Test helper: batches of decoded readings built in memory, and an operator context.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/batch.hpp"
#include "engine/metrics.hpp"
#include "engine/operator.hpp"
#include "schemas/reading_generated.h"

namespace assay::testing {

/// One reading to put in a row.
struct R {
  std::string sensor = "s1";
  uint64_t seq = 1;
  double value = 20;
  int64_t time_ns = 1'700'000'000'000'000'000;
  double u = 0.1;
  bool reference = false;
  double reference_value = 0;
  /// Record time of the row's frame (the Kafka timestamp; 0 = none, as for file input).
  int64_t record_time_ns = 0;
};

/// Owns reading buffers and builds batches of rows pointing at them.
class Rows {
 public:
  Rows() : probe_(metrics_, "t", "op") {}
  /// A batch with one row per reading (one frame each).
  engine::Batch& batch(const std::vector<R>& rs) {
    b_.clear();
    for (const R& r : rs) {
      flatbuffers::FlatBufferBuilder fbb;
      auto id = fbb.CreateString(r.sensor);
      wire::ReadingBuilder rb(fbb);
      rb.add_sensor_id(id);
      rb.add_seq(r.seq);
      rb.add_time_ns(r.time_ns);
      rb.add_value(r.value);
      rb.add_std_uncertainty(r.u);
      if (r.reference) {
        rb.add_kind(wire::ReadingKind::ReferenceCheck);
        rb.add_reference_value(r.reference_value);
      }
      wire::FinishReadingBuffer(fbb, rb.Finish());
      bufs_.emplace_back(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
      engine::Frame frame;
      if (r.record_time_ns != 0) {
        frame.record_time_ns = r.record_time_ns;
        frame.record_time_type = engine::RecordTimeType::kLogAppendTime;
      }
      b_.frames.push_back(frame);
      b_.add_row(static_cast<uint32_t>(b_.frames.size() - 1), 0,
                 wire::GetReading(bufs_.back().data()));
    }
    if (bufs_.size() > 100000) bufs_.erase(bufs_.begin(), bufs_.begin() + 50000);
    return b_;
  }
  /// Runs `op` on the batch with the context's wall-clock `now_ns` and monotonic `mono_ns`
  /// (which no verdict may depend on: "now" is each frame's record time, R::record_time_ns).
  void run(const engine::Operator& op, engine::OperatorState& st, engine::Batch& b,
           int64_t now_ns = 1'700'000'000'000'000'000, int64_t mono_ns = 1'000'000'000) {
    engine::OperatorContext ctx{info_, probe_, 1, now_ns, mono_ns};
    op.process(b, &st, ctx);
  }
  engine::Batch b_;

 private:
  std::deque<std::vector<uint8_t>> bufs_;
  engine::Metrics metrics_;
  engine::OperatorProbe probe_;
  engine::PipelineInfo info_{"t", {}, "i"};
};

}  // namespace assay::testing
