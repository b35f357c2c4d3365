#include "engine/runner.hpp"

#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <array>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/decode.hpp"
#include "engine/encode.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"
#include "schemas/common_generated.h"
#include "schemas/reading_generated.h"

namespace assay::engine {

namespace {

// "signature=Valid;calibration=InTolerance;..." for Kafka headers.
void verdict_summary(const Batch& b, uint32_t r, std::string& out) {
  out.clear();
  out += "signature=";
  out += wire::EnumNameSignatureVerdict(static_cast<wire::SignatureVerdict>(b.row_signature[r]));
  if (b.row_calibration[r] != 0) {
    out += ";calibration=";
    out += wire::EnumNameCalibrationVerdict(
        static_cast<wire::CalibrationVerdict>(b.row_calibration[r]));
  }
  if (b.row_drift[r] != 0) {
    out += ";drift=";
    out += wire::EnumNameDriftLevel(static_cast<wire::DriftLevel>(b.row_drift[r]));
  }
  if (b.row_anomaly[r] != 0) out += ";anomaly=" + std::to_string(b.row_anomaly[r]);
  if (b.row_reject[r] != RejectCode::kNone) {
    out += ";rejected=";
    out += reject_code_name(b.row_reject[r]);
  }
}

// A group of consecutive operators run by one TBB filter.
struct StageGroup {
  bool stateful = false;
  std::vector<size_t> ops;  // indices into Pipeline::operators
};

}  // namespace

// The sinks' history for sealing operators (OutputReader).
struct SinkReader final : OutputReader {
  Pipeline* p = nullptr;
  bool read_back(Route route, Partition partition, size_t max_records,
                 std::vector<std::vector<uint8_t>>* out, std::string* error) const override {
    Sink* s = p->sinks[static_cast<size_t>(route)].get();
    if (s == nullptr) {
      *error = "route " + std::string(route_name(route)) + " is not configured";
      return false;
    }
    return s->read_back(partition, max_records, out, error);
  }
  std::string describe(Route route) const override {
    const Sink* s = p->sinks[static_cast<size_t>(route)].get();
    return s != nullptr ? s->describe() : std::string();
  }
  bool quarantine_tail(Route route, Partition partition, size_t records, std::string* where,
                       std::string* error) const override {
    Sink* s = p->sinks[static_cast<size_t>(route)].get();
    if (s == nullptr) {
      *error = "route " + std::string(route_name(route)) + " is not configured";
      return false;
    }
    return s->quarantine_tail(partition, records, where, error);
  }
};

// Output token of records not derived from an input frame (final checkpoints): acks of it
// are ignored by the OffsetTracker.
constexpr uint64_t kUntrackedToken = ~uint64_t{0};

struct Runner::Impl {
  std::vector<std::unique_ptr<OperatorProbe>> probes;  // per operator
  std::unique_ptr<ConnectorProbe> source_probe;
  std::array<std::unique_ptr<ConnectorProbe>, kRouteCount> sink_probes;
  std::unique_ptr<OperatorProbe> decode_probe, output_probe;
  // Per stateful operator: per-partition states. Touched only by that operator's serial stage.
  std::vector<std::map<int32_t, std::unique_ptr<OperatorState>>> states;
  std::vector<StageGroup> groups;
  // Operators that seal outputs, and their per-partition sealing states (guarded by own_mu_).
  std::vector<size_t> sealers;
  std::vector<std::map<int32_t, std::unique_ptr<OperatorState>>> seal_states;
  SinkReader reader;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<Batch>> pool;
  std::array<prometheus::Counter*, kRouteCount> route_counters{};
  prometheus::Counter* frames_counter = nullptr;
  prometheus::Counter* rows_counter = nullptr;
  prometheus::Gauge* in_flight = nullptr;
  std::atomic<int> batches_in_flight{0};
  std::mutex error_mu;
  std::string error;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(RejectCode::kCount_)> by_reason{};

  // Runs finish() of the sealing states of partition `only` (every partition if negative)
  // and writes what they produce (final checkpoints, not tracked as input progress). The
  // caller holds Runner::own_mu_.
  void close_seals(Pipeline& p, int32_t only) {
    for (size_t i : sealers) {
      for (auto& [part, state] : seal_states[i]) {
        if (only >= 0 && part != only) continue;
        Batch fin;
        fin.partition = Partition(part);
        OperatorContext ctx{p.info,   *probes[i],     static_cast<uint8_t>(i + 1),
                            now_ns(), monotonic_ns(), &reader};
        p.operators[i]->finish(fin, state.get(), ctx);
        for (const OutputRecord& o : fin.outputs) {
          Sink* sink = p.sinks[static_cast<size_t>(o.route)].get();
          OutputMeta meta;
          meta.pipeline = p.info.name;
          meta.partition = part;
          meta.verdict = "checkpoint";
          if (sink != nullptr &&
              !sink->write({fin.out_arena.data() + o.offset, o.size}, meta, kUntrackedToken))
            fail("route " + std::string(route_name(o.route)) + ": " + sink->error());
        }
      }
    }
  }
  bool healthy() {
    std::lock_guard<std::mutex> lock(error_mu);
    return error.empty();
  }
  void fail(const std::string& e) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (error.empty()) error = e;
  }
  std::unique_ptr<Batch> take() {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool.empty()) return std::make_unique<Batch>();
    auto b = std::move(pool.back());
    pool.pop_back();
    return b;
  }
  void give(std::unique_ptr<Batch> b) {
    b->clear();
    std::lock_guard<std::mutex> lock(pool_mu);
    pool.push_back(std::move(b));
  }
};

Runner::Runner(Pipeline& pipeline, Metrics& metrics)
    : impl_(std::make_unique<Impl>()), pipeline_(pipeline), metrics_(metrics) {
  const std::string& pname = pipeline_.info.name;
  impl_->decode_probe = std::make_unique<OperatorProbe>(metrics_, pname, "decode");
  impl_->output_probe = std::make_unique<OperatorProbe>(metrics_, pname, "output");
  for (size_t i = 0; i < pipeline_.operators.size(); ++i)
    impl_->probes.push_back(
        std::make_unique<OperatorProbe>(metrics_, pname, pipeline_.stage_names[i + 1]));
  impl_->states.resize(pipeline_.operators.size());
  impl_->seal_states.resize(pipeline_.operators.size());
  impl_->reader.p = &pipeline_;
  for (size_t i = 0; i < pipeline_.operators.size(); ++i)
    if (pipeline_.operators[i]->seals()) impl_->sealers.push_back(i);
  impl_->source_probe =
      std::make_unique<ConnectorProbe>(metrics_, pname, pipeline_.source->describe(), "source");
  for (size_t r = 0; r < kRouteCount; ++r)
    if (pipeline_.sinks[r])
      impl_->sink_probes[r] =
          std::make_unique<ConnectorProbe>(metrics_, pname, pipeline_.sinks[r]->describe(),
                                           std::string(route_name(static_cast<Route>(r))));
  for (size_t i = 0; i < pipeline_.operators.size(); ++i) {
    const bool st = pipeline_.operators[i]->stateful();
    if (impl_->groups.empty() || impl_->groups.back().stateful || st)
      impl_->groups.push_back(StageGroup{st, {}});
    impl_->groups.back().ops.push_back(i);
  }
  auto& routes = metrics_.counters("assay_route_records_total", "Output records written, by route");
  for (size_t r = 0; r < kRouteCount; ++r)
    impl_->route_counters[r] = &routes.Add(
        {{"pipeline", pname}, {"route", std::string(route_name(static_cast<Route>(r)))}});
  impl_->frames_counter =
      &metrics_.counters("assay_input_frames_total", "Input records (frames) read")
           .Add({{"pipeline", pname}});
  impl_->rows_counter =
      &metrics_
           .counters("assay_input_readings_total",
                     "Readings decoded from input records (plus undecodable records)")
           .Add({{"pipeline", pname}});
  impl_->in_flight = &metrics_.gauges("assay_batches_in_flight", "Batches inside the pipeline")
                          .Add({{"pipeline", pname}});
}

Runner::~Runner() = default;

std::map<int32_t, Offset> Runner::revoke(std::span<const Partition> partitions) {
  std::lock_guard<std::mutex> lock(own_mu_);
  std::map<int32_t, Offset> out;
  if (!impl_->sealers.empty()) {
    // Chains move with the partition: close their open ranges (a checkpoint over what was
    // written), and deliver everything before the next owner reads the outputs back.
    // (Not after a failure: a checkpoint must never cover records that were not written.)
    if (impl_->healthy() && !tracker_.failed())
      for (Partition p : partitions) impl_->close_seals(pipeline_, p.value());
    for (Route r : {Route::kTrusted, Route::kAttestations})
      if (Sink* s = pipeline_.sinks[static_cast<size_t>(r)].get(); s && !s->flush(30000))
        impl_->fail("route " + std::string(route_name(r)) +
                    ": flush before handing over partitions failed: " + s->error());
  }
  for (Partition p : partitions) {
    {
      std::lock_guard<std::mutex> epoch_lock(epoch_mu_);
      ++epochs_[p.value()];
    }
    for (auto& states : impl_->seal_states) states.erase(p.value());  // re-read on reassignment
    if (auto c = tracker_.committable(p)) out[p.value()] = *c;
    tracker_.drop_partition(p);
  }
  return out;
}

void Runner::source_failed(const std::string& message) {
  impl_->fail(message);
  stop_.store(true);
}

bool Runner::ready() const {
  return running_.load() && !stop_.load() && pipeline_.source && pipeline_.source->healthy();
}

RunSummary Runner::run() {
  RunSummary summary;
  const int64_t t0 = monotonic_ns();
  Pipeline& p = pipeline_;
  Impl& im = *impl_;
  std::string err;

  // ---- start ----------------------------------------------------------------------------
  // The input first: a missing input must not cost the outputs (sinks may truncate files).
  if (!p.source->check(&err)) {
    summary.ok = false;
    summary.error = "input: " + err;
    return summary;
  }
  p.source->set_host(this);
  for (size_t r = 0; r < kRouteCount; ++r) {
    if (!p.sinks[r]) continue;
    p.sinks[r]->set_ack([this](uint64_t token, bool ok) { tracker_.ack(token, ok); });
    if (!p.sinks[r]->start(&err)) {
      summary.ok = false;
      summary.error = "route " + std::string(route_name(static_cast<Route>(r))) + ": " + err;
      return summary;
    }
  }
  if (!p.services.start_all(&err)) {
    summary.ok = false;
    summary.error = err;
    return summary;
  }
  for (auto& op : p.operators) {
    if (!op->start(&err)) {
      p.services.stop_all();
      summary.ok = false;
      summary.error = std::string(op->type()) + ": " + err;
      return summary;
    }
  }
  if (!p.source->start(&err)) {
    for (auto& op : p.operators) op->stop();
    p.services.stop_all();
    summary.ok = false;
    summary.error = "input " + p.source->describe() + ": " + err;
    return summary;
  }
  running_.store(true);
  log_info("runner", "pipeline started",
           {{"pipeline", p.info.name},
            {"input", p.source->describe()},
            {"operators", std::to_string(p.operators.size())},
            {"batch_size", std::to_string(p.engine.batch_size)},
            {"max_in_flight", std::to_string(p.engine.max_in_flight)}});

  // ---- filters --------------------------------------------------------------------------
  uint64_t next_seq = 0;
  // Hands the source the committable position of every partition that moved (caller holds
  // own_mu_; epochs_ is read under epoch_mu_). Delivery reports usually arrive after their batch
  // left the sink stage, so this also runs while the source is idle and after the drain: otherwise
  // the last records of a partition would stay uncommitted until more input came for it (or forever
  // at shutdown).
  auto acknowledge_done = [&] {
    thread_local std::vector<int32_t> parts;
    parts.clear();
    {
      std::lock_guard<std::mutex> epoch_lock(epoch_mu_);
      for (const auto& [part, epoch] : epochs_) parts.push_back(part);
    }
    for (int32_t part : parts)
      if (auto off = tracker_.take_committable(Partition(part)))
        p.source->acknowledge(Partition(part), *off);
  };
  auto source_filter = tbb::make_filter<void, Batch*>(
      tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) -> Batch* {
        for (;;) {
          if (stop_.load(std::memory_order_relaxed) || tracker_.failed()) {
            fc.stop();
            return nullptr;
          }
          // Backpressure: admit no new input while an operator or a sink is not ready.
          bool admit = p.services.ready();
          for (const auto& op : p.operators) admit = admit && op->ready();
          for (const auto& s : p.sinks) admit = admit && (!s || s->ready());
          if (!admit) {
            for (const auto& s : p.sinks)
              if (s) s->poll();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
          }
          auto batch = im.take();
          const int64_t read_start = monotonic_ns();
          const SourceStatus st = p.source->next(*batch, p.engine.batch_size);
          if (st == SourceStatus::kBatch)
            im.source_probe->records(batch->frames.size(), (monotonic_ns() - read_start) * 1e-9);
          if (st == SourceStatus::kFailed) im.source_probe->error();
          if (st == SourceStatus::kBatch && !batch->frames.empty()) {
            batch->sequence = next_seq++;
            {
              std::lock_guard<std::mutex> lock(epoch_mu_);
              batch->epoch = epochs_[batch->partition.value()];
            }
            batch->created_ns = monotonic_ns();
            im.in_flight->Set(++im.batches_in_flight);
            return batch.release();
          }
          im.give(std::move(batch));
          if (st == SourceStatus::kEnd) {
            fc.stop();
            return nullptr;
          }
          if (st == SourceStatus::kFailed) {
            im.fail("input " + p.source->describe() + ": " + p.source->error());
            fc.stop();
            return nullptr;
          }
          for (const auto& s : p.sinks)
            if (s) s->poll();
          {
            std::lock_guard<std::mutex> lock(own_mu_);
            acknowledge_done();
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      });

  auto decode_filter =
      tbb::make_filter<Batch*, Batch*>(tbb::filter_mode::parallel, [&](Batch* b) -> Batch* {
        const int64_t s = monotonic_ns();
        decode_batch(*b);
        uint64_t rejected = 0;
        std::array<uint32_t, static_cast<size_t>(RejectCode::kCount_)> counts{};
        for (uint32_t r = 0; r < b->row_count(); ++r) {
          if (b->row_reject[r] != RejectCode::kNone) {
            ++counts[static_cast<size_t>(b->row_reject[r])];
            ++rejected;
          }
        }
        for (size_t c = 0; c < counts.size(); ++c)
          im.decode_probe->rejected(static_cast<RejectCode>(c), counts[c]);
        im.decode_probe->batch(b->frames.size(), b->sel.size(), (monotonic_ns() - s) * 1e-9);
        return b;
      });

  auto run_op = [&](size_t i, Batch& b) {
    const int64_t s = monotonic_ns();
    const std::vector<uint32_t> before = b.sel;
    OperatorState* state = nullptr;
    if (p.operators[i]->stateful()) {
      auto& slot = im.states[i][b.partition.value()];
      if (!slot) slot = p.operators[i]->make_state(b.partition);
      state = slot.get();
    }
    OperatorContext ctx{p.info, *im.probes[i], static_cast<uint8_t>(i + 1), now_ns(),
                        monotonic_ns()};
    p.operators[i]->process(b, state, ctx);
    std::array<uint32_t, static_cast<size_t>(RejectCode::kCount_)> counts{};
    for (uint32_t r : before)
      if (b.row_reject[r] != RejectCode::kNone) ++counts[static_cast<size_t>(b.row_reject[r])];
    for (size_t c = 0; c < counts.size(); ++c)
      im.probes[i]->rejected(static_cast<RejectCode>(c), counts[c]);
    b.compact_selection();
    im.probes[i]->batch(before.size(), b.sel.size(), (monotonic_ns() - s) * 1e-9);
  };

  tbb::filter<Batch*, Batch*> middle = decode_filter;
  for (const StageGroup& g : im.groups) {
    middle =
        middle & tbb::make_filter<Batch*, Batch*>(
                     g.stateful ? tbb::filter_mode::serial_in_order : tbb::filter_mode::parallel,
                     [&, ops = g.ops](Batch* b) -> Batch* {
                       for (size_t i : ops) run_op(i, *b);
                       return b;
                     });
  }
  middle = middle &
           tbb::make_filter<Batch*, Batch*>(tbb::filter_mode::parallel, [&](Batch* b) -> Batch* {
             const int64_t s = monotonic_ns();
             EncodeContext ectx{p.info, p.stage_names, now_ns(), !im.sealers.empty()};
             encode_batch(*b, ectx);
             im.output_probe->batch(b->row_count(), b->outputs.size(), (monotonic_ns() - s) * 1e-9);
             return b;
           });

  auto sink_filter =
      tbb::make_filter<Batch*, void>(tbb::filter_mode::serial_in_order, [&](Batch* b) {
        std::unique_ptr<Batch> owned(b);
        std::unique_lock<std::mutex> own_lock(own_mu_);
        uint64_t epoch = 0;
        {
          std::lock_guard<std::mutex> epoch_lock(epoch_mu_);
          epoch = epochs_[b->partition.value()];
        }
        if (b->epoch != epoch) {
          // The partition was revoked while this batch was in flight: drop it unwritten.
          own_lock.unlock();
          stats_.dropped_revoked.fetch_add(1, std::memory_order_relaxed);
          im.in_flight->Set(--im.batches_in_flight);
          im.give(std::move(owned));
          return;
        }
        for (size_t i : im.sealers) {  // hash chains etc.: serial, in input order
          auto& slot = im.seal_states[i][b->partition.value()];
          if (!slot) slot = p.operators[i]->make_state(b->partition);
          OperatorContext ctx{p.info,   *im.probes[i],  static_cast<uint8_t>(i + 1),
                              now_ns(), monotonic_ns(), &im.reader};
          std::string seal_error;
          if (!p.operators[i]->seal(*b, slot.get(), ctx, &seal_error)) {
            own_lock.unlock();
            im.fail(std::string(p.operators[i]->type()) + ": " + seal_error);
            stop_.store(true);
            im.in_flight->Set(--im.batches_in_flight);
            im.give(std::move(owned));
            return;
          }
        }
        const size_t nframes = b->frames.size();
        std::vector<uint32_t> per_frame(nframes, 0);
        for (const OutputRecord& o : b->outputs)
          if (p.sinks[static_cast<size_t>(o.route)]) ++per_frame[o.frame];
        std::vector<Offset> offsets(nframes);
        for (size_t f = 0; f < nframes; ++f) offsets[f] = b->frames[f].source_offset;
        std::vector<uint64_t> tokens(nframes);
        tracker_.register_frames(b->partition, offsets, per_frame, tokens);
        std::array<uint64_t, kRouteCount> per_route{};
        std::string verdict;
        const int64_t write_start = monotonic_ns();
        for (const OutputRecord& o : b->outputs) {
          Sink* sink = p.sinks[static_cast<size_t>(o.route)].get();
          if (sink == nullptr) {
            stats_.alerts_unrouted.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          OutputMeta meta;
          meta.pipeline = p.info.name;
          meta.reason = o.reason;
          meta.partition = b->partition.value();
          if (o.row != UINT32_MAX) {
            meta.key = b->row_key(o.row);  // the pseudonym if a privacy rule replaced it
            verdict_summary(*b, o.row, verdict);
            meta.verdict = verdict;
          } else {
            meta.verdict = o.route == Route::kAttestations ? "checkpoint"
                           : o.route == Route::kAlerts     ? "alert"
                                                           : route_name(o.route);
          }
          if (!sink->write({b->out_arena.data() + o.offset, o.size}, meta, tokens[o.frame])) {
            im.sink_probes[static_cast<size_t>(o.route)]->error();
            im.fail("route " + std::string(route_name(o.route)) + ": " + sink->error());
            tracker_.ack(tokens[o.frame], false);
            stop_.store(true);
            continue;
          }
          ++per_route[static_cast<size_t>(o.route)];
          if (o.route == Route::kRejected) im.by_reason[static_cast<size_t>(o.reason)].fetch_add(1);
        }
        const double write_seconds = (monotonic_ns() - write_start) * 1e-9;
        for (size_t r = 0; r < kRouteCount; ++r) {
          if (per_route[r] == 0) continue;
          im.route_counters[r]->Increment(static_cast<double>(per_route[r]));
          im.sink_probes[r]->records(per_route[r], write_seconds);
        }
        for (const auto& s : p.sinks)
          if (s) s->poll();
        acknowledge_done();
        own_lock.unlock();
        stats_.frames_in.fetch_add(nframes, std::memory_order_relaxed);
        stats_.rows_in.fetch_add(b->row_count(), std::memory_order_relaxed);
        stats_.trusted.fetch_add(per_route[0], std::memory_order_relaxed);
        stats_.rejected.fetch_add(per_route[1], std::memory_order_relaxed);
        stats_.alerts.fetch_add(per_route[2], std::memory_order_relaxed);
        stats_.batches.fetch_add(1, std::memory_order_relaxed);
        im.frames_counter->Increment(static_cast<double>(nframes));
        im.rows_counter->Increment(static_cast<double>(b->row_count()));
        im.in_flight->Set(--im.batches_in_flight);
        im.give(std::move(owned));
      });

  {
    tbb::task_arena arena(p.engine.threads > 0 ? p.engine.threads : tbb::task_arena::automatic);
    arena.execute([&] {
      tbb::parallel_pipeline(p.engine.max_in_flight, source_filter & middle & sink_filter);
    });
  }

  // ---- drain ------------------------------------------------------------------------------
  // Sealing operators close their open ranges (final checkpoints) after a clean drain.
  if (im.error.empty() && !tracker_.failed()) {
    std::lock_guard<std::mutex> lock(own_mu_);
    im.close_seals(p, -1);
  }
  for (size_t r = 0; r < kRouteCount; ++r) {
    if (p.sinks[r] && !p.sinks[r]->flush(30000))
      im.fail("route " + std::string(route_name(static_cast<Route>(r))) +
              ": flush failed: " + p.sinks[r]->error());
  }
  const int64_t deadline = monotonic_ns() + 30'000'000'000LL;
  while (tracker_.pending() > 0 && !tracker_.failed() && monotonic_ns() < deadline) {
    for (const auto& s : p.sinks)
      if (s) s->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(own_mu_);
    acknowledge_done();
  }
  if (tracker_.pending() > 0 && im.error.empty())
    im.fail(std::to_string(tracker_.pending()) + " input records still unacknowledged at shutdown");
  p.source->stop();
  for (auto& op : p.operators) op->stop();
  p.services.stop_all();
  for (const auto& s : p.sinks)
    if (s) s->stop();
  running_.store(false);

  summary.frames_in = stats_.frames_in.load();
  summary.rows_in = stats_.rows_in.load();
  summary.trusted = stats_.trusted.load();
  summary.rejected = stats_.rejected.load();
  summary.alerts = stats_.alerts.load();
  for (size_t c = 0; c < im.by_reason.size(); ++c)
    if (const uint64_t n = im.by_reason[c].load(); n > 0)
      summary.rejected_by_reason[std::string(reject_code_name(static_cast<RejectCode>(c)))] = n;
  summary.seconds = (monotonic_ns() - t0) * 1e-9;
  if (!im.error.empty()) {
    summary.ok = false;
    summary.error = im.error;
  }
  if (stats_.alerts_unrouted.load() > 0)
    log_warn("runner", "alerts raised but no alerts route is configured",
             {{"count", std::to_string(stats_.alerts_unrouted.load())}});
  log_info("runner", summary.ok ? "pipeline stopped" : "pipeline failed",
           {{"pipeline", p.info.name},
            {"frames_in", std::to_string(summary.frames_in)},
            {"readings_in", std::to_string(summary.rows_in)},
            {"trusted", std::to_string(summary.trusted)},
            {"rejected", std::to_string(summary.rejected)},
            {"alerts", std::to_string(summary.alerts)},
            {"error", summary.error}});
  return summary;
}

}  // namespace assay::engine
