#include "engine/runner.hpp"

#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "engine/decode.hpp"
#include "engine/encode.hpp"
#include "engine/log.hpp"
#include "engine/state_store.hpp"
#include "engine/time.hpp"
#include "engine/tsan.hpp"
#include "schemas/common_generated.h"
#include "schemas/reading_generated.h"

namespace assay::engine {

// ---- the route probe ------------------------------------------------------------------------

RouteProbe::RouteProbe(Metrics& metrics, const std::string& pipeline) {
  auto& routes = metrics.counters("assay_route_records_total", "Output records written, by route");
  for (size_t r = 0; r < kRouteCount; ++r)
    counters_[r] = &routes.Add(
        {{"pipeline", pipeline}, {"route", std::string(route_name(static_cast<Route>(r)))}});
}

void RouteProbe::written(const OutputRecord& o) {
  const size_t r = static_cast<size_t>(o.route);
  counters_[r]->Increment();
  records_[r].fetch_add(1, std::memory_order_relaxed);
  readings_[r].fetch_add(o.readings > 0 ? o.readings : 1, std::memory_order_relaxed);
  if (o.route == Route::kRejected)
    by_reason_[static_cast<size_t>(o.reason)].fetch_add(o.readings, std::memory_order_relaxed);
}

void RouteProbe::acknowledged(Route route, bool ok, uint64_t n) {
  (ok ? confirmed_ : failed_)[static_cast<size_t>(route)].fetch_add(n, std::memory_order_relaxed);
}

uint64_t RouteProbe::readings(Route route) const {
  return readings_[static_cast<size_t>(route)].load(std::memory_order_relaxed);
}

uint64_t RouteProbe::records(Route route) const {
  return records_[static_cast<size_t>(route)].load(std::memory_order_relaxed);
}

uint64_t RouteProbe::confirmed(Route route) const {
  return confirmed_[static_cast<size_t>(route)].load(std::memory_order_relaxed);
}

uint64_t RouteProbe::unconfirmed() const {
  uint64_t n = 0;
  for (size_t r = 0; r < kRouteCount; ++r) {
    const uint64_t w = records_[r].load(), c = confirmed_[r].load();
    n += w > c ? w - c : 0;
  }
  return n;
}

std::map<std::string, uint64_t> RouteProbe::rejected_by_reason() const {
  std::map<std::string, uint64_t> out;
  for (size_t c = 0; c < by_reason_.size(); ++c)
    if (const uint64_t n = by_reason_[c].load(); n > 0)
      out[std::string(reject_code_name(static_cast<RejectCode>(c)))] = n;
  return out;
}

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

// Counts rows rejected since `before` (a selection) by reason into `probe`.
void count_rejections(const Batch& b, const std::vector<uint32_t>& before, OperatorProbe& probe) {
  std::array<uint32_t, static_cast<size_t>(RejectCode::kCount_)> counts{};
  for (uint32_t r : before)
    if (b.row_reject[r] != RejectCode::kNone) ++counts[static_cast<size_t>(b.row_reject[r])];
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0) probe.rejected(static_cast<RejectCode>(c), counts[c]);
}

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

// The sealing of one output partition (docs/architecture.md, "Sealing"): its batches in input
// order, from when they are read until the write stage is done with them, and the sealing
// operators' states of its chains. Guarded by Impl::seal_mu; the states by `busy` (whoever set
// it alone touches them, and the write stage, revoke() and an aborted transaction touch them
// only while no one else has it).
struct SealLane {
  enum class Step : uint8_t {
    kQueued,   // read, not yet at the seal stage
    kArrived,  // at the seal stage, waiting for the batches of the partition before it
    kSealing,  // seal() runs on it
    kSealed,   // sealed: to be written
    kSkipped,  // of an earlier ownership epoch: not sealed, dropped by the write stage
    kFailed,   // seal() failed (or an earlier batch's did): not written
    kWritten,  // sealed and written by revoke() (its chain position was taken)
  };
  struct Entry {
    Batch* batch = nullptr;
    Step step = Step::kQueued;
  };
  std::deque<Entry> entries;  // not yet through the write stage, in input order
  size_t done = 0;            // entries at the front whose seal step is over (Sealed and later)
  bool busy = false;          // a thread runs the seal step of this lane's next batch
  bool ready = false;         // the states exist and continued their chains (first seal() ran)
  bool closed = false;        // revoke() is handing the partition over: no seal step starts
  bool failed = false;        // a seal() failed: nothing more of this partition is sealed
  std::vector<std::unique_ptr<OperatorState>> states;  // per sealing operator (Impl::sealers)
  uint64_t states_epoch = 0;                           // the ownership epoch the states belong to

  Entry& entry_of(const Batch* b) {
    for (Entry& e : entries)
      if (e.batch == b) return e;
    std::abort();  // every batch read is queued (read()) until the write stage pops it
  }
};

// The run's parts: each pipeline stage is a named function below; run() wires them into a
// tbb::parallel_pipeline.
struct Runner::Impl {
  Impl(Runner& runner, Pipeline& pipeline, Metrics& metrics)
      : self(runner), p(pipeline), routes(metrics, pipeline.info.name) {}

  Runner& self;
  Pipeline& p;
  RouteProbe routes;
  std::vector<std::unique_ptr<OperatorProbe>> probes;  // per operator
  std::unique_ptr<ConnectorProbe> source_probe;
  std::array<std::unique_ptr<ConnectorProbe>, kRouteCount> sink_probes;
  std::unique_ptr<OperatorProbe> decode_probe, output_probe;
  // Per stateful operator: per-partition states with the ownership epoch they belong to, under
  // state_mu[i] (the operator's serial stage, and partition hand-over: assign and revoke).
  struct StateSlot {
    std::unique_ptr<OperatorState> state;
    uint64_t epoch = 0;
  };
  std::vector<std::map<int32_t, StateSlot>> states;
  std::unique_ptr<std::mutex[]> state_mu;
  // Per operator: its index in Pipeline::state_ops (-1: its state is not durable).
  std::vector<int> durable;
  prometheus::Gauge* restoring_gauge = nullptr;
  // Exactly-once (p.txn set): the open transaction, under Runner::own_mu_.
  struct Txn {
    bool open = false;
    bool dirty = false;  // something was written in it
    int64_t started_ns = 0;
    std::map<int32_t, Offset> offsets;  // next input offset per partition
    std::array<uint64_t, kRouteCount> written{};
  } txn;
  prometheus::Counter* txn_committed = nullptr;
  prometheus::Counter* txn_aborted = nullptr;
  // Bumped (under epoch_mu_, with the epochs) when a transaction aborts: a batch read across it
  // is dropped, and the read stage rewinds the source before it reads again.
  std::atomic<uint64_t> rewind_gen{0};
  uint64_t applied_rewind = 0;  // read stage only: the rewind_gen the source was rewound for
  std::vector<prometheus::Counter*> restored_counters, written_counters;  // per state op
  std::vector<StageGroup> groups;
  // Operators that seal outputs, and per output partition their lane (SealLane; never erased,
  // so a lane's address stays valid). seal_cv: a lane's entry finished its seal step, or a
  // lane is no longer busy.
  std::vector<size_t> sealers;
  std::mutex seal_mu;
  std::condition_variable seal_cv;
  std::map<int32_t, SealLane> lanes;
  SinkReader reader;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<Batch>> pool;
  prometheus::Counter* frames_counter = nullptr;
  prometheus::Counter* rows_counter = nullptr;
  prometheus::Gauge* in_flight = nullptr;
  std::atomic<int> batches_in_flight{0};
  uint64_t next_seq = 0;  // read stage only
  std::mutex error_mu;
  std::string error;

  // ---- life cycle ------------------------------------------------------------------------
  bool start(std::string* err);
  void drain();
  void stop_all();

  // ---- stages (in pipeline order) --------------------------------------------------------
  Batch* read(tbb::flow_control& fc);
  Batch* decode(Batch* b);
  void run_operator(size_t i, Batch& b);
  Batch* encode(Batch* b);
  Batch* seal(Batch* b);
  void write(Batch* b);

  // ---- helpers ---------------------------------------------------------------------------
  bool admit();
  void poll_sinks() {
    for (const auto& s : p.sinks)
      if (s) s->poll();
    if (p.state) p.state->poll();
  }
  void acknowledge_done();
  void retire(std::unique_ptr<Batch> b) {
    in_flight->Set(--batches_in_flight);
    give(std::move(b));
  }
  void close_seals(int32_t only);
  void drain_lane(SealLane& lane);
  SealLane::Step seal_batch(SealLane& lane, Batch& b);
  SealLane::Step settle(Batch& b);
  void quiesce_lane(SealLane& lane, std::unique_lock<std::mutex>& lock);
  void reset_lane(SealLane& lane);
  void write_sealed_ahead(int32_t part);
  void output(Batch& b);
  void count_input(const Batch& b);
  uint64_t current_epoch(int32_t part) {
    std::lock_guard<std::mutex> lock(self.epoch_mu_);
    return self.epochs_[part];
  }
  bool restore_states(size_t i, std::span<const Partition> parts,
                      std::vector<std::unique_ptr<OperatorState>>* out,
                      std::vector<uint64_t>* counts, std::string* err);
  std::unique_ptr<OperatorState> restore_state(size_t i, Partition part, std::string* err);
  bool restore_partitions(std::span<const Partition> parts);
  void maybe_commit(bool force);
  void txn_aborted_rewind(const std::string& reason);
  bool healthy() {
    std::lock_guard<std::mutex> lock(error_mu);
    return error.empty();
  }
  void fail(const std::string& e) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (error.empty()) error = e;
  }
  OperatorContext context(size_t i, const OutputReader* outputs = nullptr) {
    return OperatorContext{p.info,   *probes[i],     static_cast<uint8_t>(i + 1),
                           now_ns(), monotonic_ns(), outputs};
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

// Runs finish() of the sealing states of partition `only` (every partition if negative) and
// writes what they produce (final checkpoints, not tracked as input progress). The caller
// holds Runner::own_mu_, and no seal step runs on those lanes (the pipeline has ended, or
// revoke() closed them).
void Runner::Impl::close_seals(int32_t only) {
  std::vector<std::pair<int32_t, SealLane*>> chosen;
  {
    std::lock_guard<std::mutex> lock(seal_mu);
    for (auto& [part, lane] : lanes)
      if ((only < 0 || part == only) && !lane.states.empty()) chosen.emplace_back(part, &lane);
  }
  for (size_t k = 0; k < sealers.size(); ++k) {
    const size_t i = sealers[k];
    for (auto& [part, lane] : chosen) {
      Batch fin;
      fin.partition = Partition(part);
      OperatorContext ctx = context(i, &reader);
      p.operators[i]->finish(fin, lane->states[k].get(), ctx);
      for (const OutputRecord& o : fin.outputs) {
        Sink* sink = p.sinks[static_cast<size_t>(o.route)].get();
        if (sink == nullptr) continue;
        OutputMeta meta;
        meta.pipeline = p.info.name;
        meta.partition = part;
        meta.verdict = "checkpoint";
        if (!sink->write({fin.out_arena.data() + o.offset, o.size}, meta, kUntrackedToken)) {
          fail("route " + std::string(route_name(o.route)) + ": " + sink->error());
        } else {
          routes.written(o);
          ++txn.written[static_cast<size_t>(o.route)];
          txn.dirty = true;
        }
      }
    }
  }
}

// Waits (lock: on seal_mu) until no seal step runs on `lane`.
void Runner::Impl::quiesce_lane(SealLane& lane, std::unique_lock<std::mutex>& lock) {
  seal_cv.wait(lock, [&lane] { return !lane.busy; });
}

// Forgets a lane's sealing states (the partition was handed over, or a transaction aborted):
// the next batch of a current epoch continues the chains from the outputs again. The caller
// holds own_mu_ and has bumped the partition's epoch, so that a seal step starting now skips
// the batches still queued.
void Runner::Impl::reset_lane(SealLane& lane) {
  std::unique_lock<std::mutex> lock(seal_mu);
  quiesce_lane(lane, lock);
  lane.states.clear();
  lane.ready = false;
  lane.failed = false;
}

// Hands the source the committable position of every partition that moved (caller holds
// own_mu_; epochs_ is read under epoch_mu_). Delivery reports usually arrive after their batch
// left the sink stage, so this also runs while the source is idle and after the drain:
// otherwise the last records of a partition would stay uncommitted until more input came for
// it (or forever at shutdown).
void Runner::Impl::acknowledge_done() {
  thread_local std::vector<int32_t> parts;
  parts.clear();
  {
    std::lock_guard<std::mutex> epoch_lock(self.epoch_mu_);
    for (const auto& [part, epoch] : self.epochs_) parts.push_back(part);
  }
  for (int32_t part : parts)
    if (auto off = self.tracker_.take_committable(Partition(part)))
      p.source->acknowledge(Partition(part), *off);
}

// Starts everything in dependency order; false with a message (and what started is stopped).
bool Runner::Impl::start(std::string* err) {
  // The input first: a missing input must not cost the outputs (sinks may truncate files).
  if (!p.source->check(err)) {
    *err = "input: " + *err;
    return false;
  }
  p.source->set_host(&self);
  for (size_t r = 0; r < kRouteCount; ++r) {
    if (!p.sinks[r]) continue;
    const Route route = static_cast<Route>(r);
    p.sinks[r]->set_ack([this, route](uint64_t token, bool ok) {
      if (p.txn) return;  // exactly-once: outputs count as confirmed when their transaction commits
      self.tracker_.ack(token, ok);
      routes.acknowledged(route, ok);
    });
    if (!p.sinks[r]->start(err)) {
      *err = "route " + std::string(route_name(route)) + ": " + *err;
      return false;
    }
  }
  if (p.state) {
    p.state->set_ack([this](uint64_t token, bool ok) {
      if (!p.txn) self.tracker_.ack(token, ok);
    });
    if (!p.state->start(p.state_ops, err)) {
      *err = "state: " + *err;
      return false;
    }
  }
  if (!p.services.start_all(err)) return false;
  for (auto& op : p.operators) {
    if (!op->start(err)) {
      p.services.stop_all();
      *err = std::string(op->type()) + ": " + *err;
      return false;
    }
  }
  if (!p.source->start(err)) {
    for (auto& op : p.operators) op->stop();
    p.services.stop_all();
    *err = "input " + p.source->describe() + ": " + *err;
    return false;
  }
  if (p.txn) {
    if (!p.txn->begin(err)) {
      p.source->stop();
      for (auto& op : p.operators) op->stop();
      p.services.stop_all();
      *err = "exactly-once: " + *err;
      return false;
    }
    txn.open = true;
    txn.started_ns = monotonic_ns();
  }
  return true;
}

// Exactly-once: commits the open transaction (outputs, state entries, input offsets) when the
// commit interval has passed, or now (`force`), and opens the next one. Caller holds own_mu_.
void Runner::Impl::maybe_commit(bool force) {
  if (!p.txn || !txn.open || !txn.dirty) return;
  const int64_t now = monotonic_ns();
  if (!force && now - txn.started_ns < int64_t{p.engine.commit_interval_ms} * 1'000'000) return;
  std::string err;
  if (!healthy() || self.tracker_.failed()) {
    // Never commit a transaction after a failure: it may lack outputs of its records.
    p.txn->abort(&err);
    txn.open = false;
    return;
  }
  const TxnStatus st = p.txn->commit(txn.offsets, &err);
  if (st == TxnStatus::kOk) {
    for (size_t r = 0; r < kRouteCount; ++r)
      if (txn.written[r] > 0) routes.acknowledged(static_cast<Route>(r), true, txn.written[r]);
    txn_committed->Increment();
  } else if (st == TxnStatus::kAborted) {
    txn_aborted_rewind(err);
  } else {
    fail("exactly-once: " + err);
    self.stop_.store(true);
    txn.open = false;
    return;
  }
  txn.offsets.clear();
  txn.written = {};
  txn.dirty = false;
  if (!p.txn->begin(&err)) {
    fail("exactly-once: " + err);
    self.stop_.store(true);
    txn.open = false;
    return;
  }
  txn.started_ns = monotonic_ns();
}

// Exactly-once, after an aborted transaction: nothing of it is visible, so every batch in
// flight is dropped (epochs), every partition's state is restored again from what was
// committed (lazily, at its next batch), chains are read back again, and the source goes
// back to the committed offsets. Caller holds own_mu_.
void Runner::Impl::txn_aborted_rewind(const std::string& reason) {
  log_warn("runner", "transaction aborted; rewinding to the committed offsets",
           {{"pipeline", p.info.name}, {"reason", reason}});
  txn_aborted->Increment();
  std::vector<int32_t> parts;
  {
    // Together with the epochs, under epoch_mu_: the read stage stamps a batch with an epoch
    // only if no rewind came since it asked the source for it (read()).
    std::lock_guard<std::mutex> lock(self.epoch_mu_);
    for (auto& [part, epoch] : self.epochs_) {
      ++epoch;
      parts.push_back(part);
    }
    rewind_gen.fetch_add(1);
  }
  for (int32_t part : parts) self.tracker_.drop_partition(Partition(part));
  if (!sealers.empty()) {
    std::vector<SealLane*> all;
    {
      std::lock_guard<std::mutex> lock(seal_mu);
      for (auto& [part, lane] : lanes) all.push_back(&lane);
    }
    for (SealLane* lane : all) reset_lane(*lane);
  }
  for (size_t i = 0; i < p.operators.size(); ++i) {
    if (!p.operators[i]->stateful()) continue;
    std::lock_guard<std::mutex> lock(state_mu[i]);
    states[i].clear();
  }
  // The read stage tells the source to rewind before it next reads (read()).
}

// Backpressure: admit no new input while a service, an operator or a sink is not ready.
bool Runner::Impl::admit() {
  bool ok = p.services.ready();
  for (const auto& op : p.operators) ok = ok && op->ready();
  for (const auto& s : p.sinks) ok = ok && (!s || s->ready());
  return ok;
}

// Stage 1 (serial): a batch of one partition from the source, stamped with its sequence and
// the partition's ownership epoch.
Batch* Runner::Impl::read(tbb::flow_control& fc) {
  for (;;) {
    if (self.stop_.load(std::memory_order_relaxed) || self.tracker_.failed()) {
      fc.stop();
      return nullptr;
    }
    if (!admit()) {
      poll_sinks();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    auto batch = take();
    batch->max_readings_per_record = p.engine.max_readings_per_record;
    const int64_t read_start = monotonic_ns();
    // After an aborted transaction: back to the committed offsets before anything is read, so
    // that a batch read under this generation is read after every rewind so far.
    const uint64_t gen = rewind_gen.load();
    if (gen != applied_rewind) {
      p.source->rewind();
      applied_rewind = gen;
    }
    const SourceStatus st = p.source->next(*batch, p.engine.batch_size);
    if (st != SourceStatus::kFailed && gen != rewind_gen.load()) {
      give(std::move(batch));  // read before an aborted transaction's rewind: read again
      continue;
    }
    if (st == SourceStatus::kBatch)
      source_probe->records(batch->frames.size(), (monotonic_ns() - read_start) * 1e-9);
    if (st == SourceStatus::kFailed) source_probe->error();
    if (st == SourceStatus::kBatch && !batch->frames.empty()) {
      bool rewound = false;
      {
        std::lock_guard<std::mutex> lock(self.epoch_mu_);
        rewound = gen != rewind_gen.load();  // an abort since: its epochs would be too new
        batch->epoch = self.epochs_[batch->partition.value()];
      }
      if (rewound) {
        give(std::move(batch));  // read again after the rewind
        continue;
      }
      batch->sequence = next_seq++;
      batch->created_ns = monotonic_ns();
      if (!sealers.empty()) {  // its place in its partition's sealing order
        std::lock_guard<std::mutex> lock(seal_mu);
        lanes[batch->partition.value()].entries.push_back({batch.get(), SealLane::Step::kQueued});
      }
      in_flight->Set(++batches_in_flight);
      return batch.release();
    }
    give(std::move(batch));
    if (st == SourceStatus::kEnd) {
      fc.stop();
      return nullptr;
    }
    if (st == SourceStatus::kFailed) {
      fail("input " + p.source->describe() + ": " + p.source->error());
      fc.stop();
      return nullptr;
    }
    poll_sinks();
    {
      std::lock_guard<std::mutex> lock(self.own_mu_);
      acknowledge_done();
      maybe_commit(false);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Stage 2 (parallel): strict parsing into rows, with the envelope decoded once.
Batch* Runner::Impl::decode(Batch* b) {
  const int64_t s = monotonic_ns();
  decode_batch(*b, p.format.get());
  thread_local std::vector<uint32_t> all;
  all.resize(b->row_count());
  for (uint32_t r = 0; r < all.size(); ++r) all[r] = r;
  count_rejections(*b, all, *decode_probe);
  decode_probe->batch(b->frames.size(), b->sel.size(), (monotonic_ns() - s) * 1e-9);
  return b;
}

// Stage 3.. (parallel for stateless operators, serial in input order for stateful ones).
void Runner::Impl::run_operator(size_t i, Batch& b) {
  const int64_t s = monotonic_ns();
  const std::vector<uint32_t> before = b.sel;
  OperatorState* state = nullptr;
  std::unique_lock<std::mutex> state_lock;
  if (p.operators[i]->stateful()) {
    state_lock = std::unique_lock<std::mutex>(state_mu[i]);
    const uint64_t epoch = current_epoch(b.partition.value());
    // A batch of a partition revoked since it was read: written by nobody (write() drops it),
    // and it must not touch the state of the partition's next assignment.
    if (b.epoch != epoch) return;
    StateSlot& slot = states[i][b.partition.value()];
    if (!slot.state || slot.epoch != epoch) {
      // Not restored on assignment (a source without consumer-group assignment): now.
      std::string err;
      slot.state = durable[i] >= 0 ? restore_state(i, b.partition, &err)
                                   : p.operators[i]->make_state(b.partition);
      slot.epoch = epoch;
      if (!slot.state) {
        fail(err);
        self.stop_.store(true);
        states[i].erase(b.partition.value());
        return;
      }
    }
    state = slot.state.get();
  }
  OperatorContext ctx = context(i);
  p.operators[i]->process(b, state, ctx);
  if (state != nullptr && durable[i] >= 0) {
    const auto op = static_cast<uint16_t>(durable[i]);
    state->changed_entries(b, before,
                           [&b, op](std::string_view key, std::span<const uint8_t> entry) {
                             Batch::StateOut o;
                             o.op = op;
                             o.key_offset = static_cast<uint32_t>(b.state_arena.size());
                             o.key_size = static_cast<uint32_t>(key.size());
                             b.state_arena.insert(b.state_arena.end(), key.begin(), key.end());
                             o.entry_offset = static_cast<uint32_t>(b.state_arena.size());
                             o.entry_size = static_cast<uint32_t>(entry.size());
                             b.state_arena.insert(b.state_arena.end(), entry.begin(), entry.end());
                             b.state_out.push_back(o);
                           });
  }
  if (state_lock.owns_lock()) state_lock.unlock();
  count_rejections(b, before, *probes[i]);
  b.compact_selection();
  probes[i]->batch(before.size(), b.sel.size(), (monotonic_ns() - s) * 1e-9);
}

// Stage (parallel): the output records of every row and alert.
Batch* Runner::Impl::encode(Batch* b) {
  const int64_t s = monotonic_ns();
  EncodeContext ectx{p.info,
                     p.stage_names,
                     now_ns(),
                     !sealers.empty(),
                     static_cast<size_t>(p.engine.max_output_bytes_per_record),
                     p.engine.signed_bytes_once,
                     p.engine.trusted_grouped};
  encode_batch(*b, ectx);
  output_probe->batch(b->row_count(), b->outputs.size(), (monotonic_ns() - s) * 1e-9);
  return b;
}

// Stage (parallel across partitions, in input order within one; only with a sealing
// operator): seal (hash chains). A batch whose partition's earlier batches are still on their
// way is left for the thread that seals those (drain_lane()); the write stage waits for it.
Batch* Runner::Impl::seal(Batch* b) {
  SealLane* lane = nullptr;
  {
    std::lock_guard<std::mutex> lock(seal_mu);
    lane = &lanes[b->partition.value()];
    lane->entry_of(b).step = SealLane::Step::kArrived;
  }
  drain_lane(*lane);
  return b;
}

// Runs the seal step of the lane's arrived batches, oldest first, until one is missing,
// unless another thread is on the lane, the lane is closed, or it is not ready (the first
// seal() of a chain reads the outputs back, which only the write stage may do: settle()).
void Runner::Impl::drain_lane(SealLane& lane) {
  std::unique_lock<std::mutex> lock(seal_mu);
  if (lane.busy || !lane.ready || lane.closed) return;
  lane.busy = true;
  // (A batch of a later epoch than the states, read after a hand-over or an aborted
  // transaction, is left to settle(), which continues the chains from the outputs first.)
  while (!lane.closed && lane.done < lane.entries.size() &&
         lane.entries[lane.done].step == SealLane::Step::kArrived &&
         lane.entries[lane.done].batch->epoch <= lane.states_epoch) {
    SealLane::Entry& e = lane.entries[lane.done];  // a deque keeps it in place meanwhile
    e.step = SealLane::Step::kSealing;
    lock.unlock();
    const SealLane::Step step = seal_batch(lane, *e.batch);
    lock.lock();
    e.step = step;
    ++lane.done;
    seal_cv.notify_all();
  }
  lane.busy = false;
  seal_cv.notify_all();
}

// The seal step of one batch, by the thread that set lane.busy: every sealing operator's
// seal(), on the lane's states.
SealLane::Step Runner::Impl::seal_batch(SealLane& lane, Batch& b) {
  // A batch of an earlier ownership epoch is dropped by the write stage: it must not move
  // the chains (they may already be another epoch's).
  if (b.epoch != current_epoch(b.partition.value()) || b.epoch != lane.states_epoch)
    return SealLane::Step::kSkipped;
  if (lane.failed) return SealLane::Step::kFailed;
  for (size_t k = 0; k < sealers.size(); ++k) {
    const size_t i = sealers[k];
    OperatorContext ctx = context(i, &reader);
    std::string seal_error;
    if (!p.operators[i]->seal(b, lane.states[k].get(), ctx, &seal_error)) {
      lane.failed = true;  // its chain cannot go on: nothing after it is sealed (or written)
      fail(std::string(p.operators[i]->type()) + ": " + seal_error);
      self.stop_.store(true);
      return SealLane::Step::kFailed;
    }
  }
  return SealLane::Step::kSealed;
}

// In the write stage (caller holds own_mu_): waits until `b`, the oldest batch of its lane, is
// through its seal step, or runs that step here when no thread will: the first batch of a
// lane (its chains continue from what the outputs hold, read back while nothing is written),
// and batches that arrived before it. Takes the batch off the lane; returns its step.
SealLane::Step Runner::Impl::settle(Batch& b) {
  const uint64_t epoch = current_epoch(b.partition.value());  // fixed while own_mu_ is held
  std::unique_lock<std::mutex> lock(seal_mu);
  SealLane& lane = lanes[b.partition.value()];
  if (lane.entries.empty() || lane.entries.front().batch != &b) std::abort();  // input order
  SealLane::Entry& e = lane.entries.front();
  while (lane.done == 0) {
    if (e.step == SealLane::Step::kArrived && !lane.busy) {
      lane.busy = true;
      e.step = SealLane::Step::kSealing;
      if (b.epoch == epoch && (lane.states.empty() || lane.states_epoch != epoch)) {
        // The first batch of this ownership epoch: fresh states (their chains continue from
        // the outputs in seal()).
        lane.states.clear();
        for (size_t i : sealers) lane.states.push_back(p.operators[i]->make_state(b.partition));
        lane.states_epoch = epoch;
        lane.ready = false;
        lane.failed = false;
      }
      lock.unlock();
      const SealLane::Step step = seal_batch(lane, b);
      lock.lock();
      e.step = step;
      ++lane.done;
      if (step == SealLane::Step::kSealed) lane.ready = true;
      lane.busy = false;
      seal_cv.notify_all();
      break;
    }
    seal_cv.wait(lock);  // another thread is sealing it
  }
  const SealLane::Step step = e.step;
  lane.entries.pop_front();
  --lane.done;
  return step;
}

// Last stage (serial, input order): write, under the hand-over lock, once the batch is sealed;
// a batch of a partition revoked meanwhile is dropped unwritten (its next owner reads it again).
void Runner::Impl::write(Batch* raw) {
  std::unique_ptr<Batch> b(raw);
  std::unique_lock<std::mutex> own_lock(self.own_mu_);
  const SealLane::Step step = sealers.empty() ? SealLane::Step::kSealed : settle(*b);
  if (step == SealLane::Step::kWritten) {  // by revoke(), which counted it
    own_lock.unlock();
    retire(std::move(b));
    return;
  }
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> epoch_lock(self.epoch_mu_);
    epoch = self.epochs_[b->partition.value()];
  }
  if (b->epoch != epoch || step == SealLane::Step::kSkipped) {
    own_lock.unlock();
    self.stats_.dropped_revoked.fetch_add(1, std::memory_order_relaxed);
    retire(std::move(b));
    return;
  }
  if (step == SealLane::Step::kFailed) {  // the run is failing (seal_batch)
    own_lock.unlock();
    retire(std::move(b));
    return;
  }
  output(*b);
  own_lock.unlock();
  count_input(*b);
  retire(std::move(b));
}

// Writes a sealed batch's outputs and state entries, registers its frames for the offset
// commit, and adds it to the open transaction. The caller holds own_mu_.
void Runner::Impl::output(Batch& batch) {
  Batch* b = &batch;
  const size_t nframes = b->frames.size();
  std::vector<uint32_t> per_frame(nframes, 0);
  for (const OutputRecord& o : b->outputs)
    if (p.sinks[static_cast<size_t>(o.route)] && !p.txn) ++per_frame[o.frame];
  // Durable state entries count as outputs of the batch's last frame: its offset (and so
  // every offset of the batch) is committed only once they are durable too.
  if (nframes > 0 && p.state && !p.txn)
    per_frame[nframes - 1] += static_cast<uint32_t>(b->state_out.size());
  std::vector<Offset> offsets(nframes);
  for (size_t f = 0; f < nframes; ++f) offsets[f] = b->frames[f].source_offset;
  std::vector<uint64_t> tokens(nframes);
  self.tracker_.register_frames(b->partition, offsets, per_frame, tokens);
  std::array<uint64_t, kRouteCount> per_route{};
  std::string verdict;
  const int64_t write_start = monotonic_ns();
  for (const OutputRecord& o : b->outputs) {
    Sink* sink = p.sinks[static_cast<size_t>(o.route)].get();
    if (sink == nullptr) {
      self.stats_.alerts_unrouted.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    OutputMeta meta;
    meta.pipeline = p.info.name;
    meta.reason = o.reason;
    meta.partition = b->partition.value();
    if (o.row != UINT32_MAX) {
      meta.key = b->row_key(o.row);  // the pseudonym if a privacy rule replaced it
      verdict_summary(*b, o.row, verdict);
      if (o.route == Route::kTrusted && o.readings > 1) {  // a grouped record: its first reading's
        verdict += ";readings=" + std::to_string(o.readings);
        if (o.mixed) verdict += ";mixed";  // the others' verdicts differ from it
      }
      meta.verdict = verdict;
    } else {
      meta.verdict = o.route == Route::kAttestations ? "checkpoint"
                     : o.route == Route::kAlerts     ? "alert"
                                                     : route_name(o.route);
      if (o.side < b->side_records.size()) meta.key = b->side_records[o.side].key;
    }
    if (!sink->write({b->out_arena.data() + o.offset, o.size}, meta, tokens[o.frame])) {
      sink_probes[static_cast<size_t>(o.route)]->error();
      fail("route " + std::string(route_name(o.route)) + ": " + sink->error());
      self.tracker_.ack(tokens[o.frame], false);
      self.stop_.store(true);
      continue;  // never counted as written
    }
    routes.written(o);
    ++per_route[static_cast<size_t>(o.route)];
  }
  if (p.state && !b->state_out.empty()) {
    const int64_t next_offset = b->frames[nframes - 1].source_offset.value() + 1;
    thread_local std::vector<uint8_t> record;
    std::array<uint64_t, 256> per_op{};
    for (const Batch::StateOut& so : b->state_out) {
      const std::string_view key(
          reinterpret_cast<const char*>(b->state_arena.data()) + so.key_offset, so.key_size);
      record.clear();
      encode_state_record(p.state_ops[so.op].type, key, next_offset,
                          {b->state_arena.data() + so.entry_offset, so.entry_size}, record);
      if (!p.state->write(so.op, b->partition, key, record, tokens[nframes - 1])) {
        fail("state: " + p.state->error());
        self.tracker_.ack(tokens[nframes - 1], false);
        self.stop_.store(true);
        continue;
      }
      ++per_op[so.op];
    }
    uint64_t n = 0;
    for (size_t op = 0; op < p.state_ops.size(); ++op) {
      if (per_op[op] == 0) continue;
      written_counters[op]->Increment(static_cast<double>(per_op[op]));
      n += per_op[op];
    }
    self.stats_.state_written.fetch_add(n, std::memory_order_relaxed);
  }
  const double write_seconds = (monotonic_ns() - write_start) * 1e-9;
  for (size_t r = 0; r < kRouteCount; ++r)
    if (per_route[r] > 0) sink_probes[r]->records(per_route[r], write_seconds);
  poll_sinks();
  acknowledge_done();
  if (p.txn && nframes > 0) {
    txn.offsets[b->partition.value()] = Offset(b->frames[nframes - 1].source_offset.value() + 1);
    for (size_t r = 0; r < kRouteCount; ++r) txn.written[r] += per_route[r];
    txn.dirty = true;
    maybe_commit(false);
  }
}

// Counts a written batch as input processed.
void Runner::Impl::count_input(const Batch& b) {
  const size_t nframes = b.frames.size();
  self.stats_.frames_in.fetch_add(nframes, std::memory_order_relaxed);
  self.stats_.rows_in.fetch_add(b.row_count(), std::memory_order_relaxed);
  self.stats_.batches.fetch_add(1, std::memory_order_relaxed);
  frames_counter->Increment(static_cast<double>(nframes));
  rows_counter->Increment(static_cast<double>(b.row_count()));
}

// revoke(), for a partition whose lane it closed: writes the batches that were sealed but not
// yet written, in order. The chains already cover them, so their outputs are written now
// (before the final checkpoint), not dropped: a checkpoint never covers a record that was not
// written, and the next owner continues after them. The caller holds own_mu_.
void Runner::Impl::write_sealed_ahead(int32_t part) {
  SealLane* lane = nullptr;
  {
    std::lock_guard<std::mutex> lock(seal_mu);
    auto it = lanes.find(part);
    if (it == lanes.end()) return;
    lane = &it->second;
  }
  for (size_t k = 0;; ++k) {
    // (An aborted transaction, in output(), moves the epoch: what is left is then dropped.)
    const uint64_t epoch = current_epoch(part);
    if (!healthy() || self.tracker_.failed()) return;
    Batch* b = nullptr;
    {
      std::lock_guard<std::mutex> lock(seal_mu);
      if (k >= lane->done) return;
      SealLane::Entry& e = lane->entries[k];
      if (e.step != SealLane::Step::kSealed || e.batch->epoch != epoch) continue;
      e.step = SealLane::Step::kWritten;
      b = e.batch;
    }
    // Nobody else touches b now: the write stage waits for own_mu_, and its seal step is over.
    output(*b);
    count_input(*b);
  }
}

// After the pipeline stopped: final checkpoints (after a clean drain), flush, wait for the
// sinks' confirmations, hand over the last offsets.
void Runner::Impl::drain() {
  if (error.empty() && !self.tracker_.failed()) {
    std::lock_guard<std::mutex> lock(self.own_mu_);
    close_seals(-1);
  }
  for (size_t r = 0; r < kRouteCount; ++r) {
    if (p.sinks[r] && !p.sinks[r]->flush(30000))
      fail("route " + std::string(route_name(static_cast<Route>(r))) +
           ": flush failed: " + p.sinks[r]->error());
  }
  if (p.state && !p.state->flush(30000)) fail("state: flush failed: " + p.state->error());
  if (p.txn) {
    std::lock_guard<std::mutex> lock(self.own_mu_);
    maybe_commit(true);  // aborts instead after a failure
  }
  const int64_t deadline = monotonic_ns() + 30'000'000'000LL;
  while (self.tracker_.pending() > 0 && !self.tracker_.failed() && monotonic_ns() < deadline) {
    poll_sinks();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(self.own_mu_);
    acknowledge_done();
  }
  if (self.tracker_.pending() > 0 && error.empty())
    fail(std::to_string(self.tracker_.pending()) +
         " input records still unacknowledged at shutdown");
}

void Runner::Impl::stop_all() {
  p.source->stop();
  for (auto& op : p.operators) op->stop();
  p.services.stop_all();
  for (const auto& s : p.sinks)
    if (s) s->stop();
  if (p.state) p.state->stop();
}

// ---- Runner ---------------------------------------------------------------------------------

Runner::Runner(Pipeline& pipeline, Metrics& metrics)
    : impl_(std::make_unique<Impl>(*this, pipeline, metrics)),
      pipeline_(pipeline),
      metrics_(metrics) {
  Impl& im = *impl_;
  const std::string& pname = pipeline_.info.name;
  im.decode_probe = std::make_unique<OperatorProbe>(metrics_, pname, "decode");
  im.output_probe = std::make_unique<OperatorProbe>(metrics_, pname, "output");
  for (size_t i = 0; i < pipeline_.operators.size(); ++i)
    im.probes.push_back(
        std::make_unique<OperatorProbe>(metrics_, pname, pipeline_.stage_names[i + 1]));
  im.states.resize(pipeline_.operators.size());
  im.state_mu = std::make_unique<std::mutex[]>(pipeline_.operators.size());
  im.durable.assign(pipeline_.operators.size(), -1);
  for (size_t k = 0; k < pipeline_.state_ops.size(); ++k) {
    im.durable[pipeline_.state_ops[k].op] = static_cast<int>(k);
    const std::map<std::string, std::string> labels{{"pipeline", pname},
                                                    {"operator", pipeline_.state_ops[k].stage}};
    im.restored_counters.push_back(
        &metrics_
             .counters("assay_state_entries_restored_total",
                       "Durable operator state entries restored on partition assignment")
             .Add(labels));
    im.written_counters.push_back(
        &metrics_
             .counters("assay_state_entries_written_total",
                       "Durable operator state entries written (changed by a batch)")
             .Add(labels));
  }
  auto& txns = metrics_.counters("assay_transactions_total",
                                 "Exactly-once transactions, by result (committed, aborted)");
  im.txn_committed = &txns.Add({{"pipeline", pname}, {"result", "committed"}});
  im.txn_aborted = &txns.Add({{"pipeline", pname}, {"result", "aborted"}});
  im.restoring_gauge =
      &metrics_
           .gauges("assay_state_restoring_partitions",
                   "Partitions whose durable operator state is being restored (not ready)")
           .Add({{"pipeline", pname}});
  im.reader.p = &pipeline_;
  for (size_t i = 0; i < pipeline_.operators.size(); ++i)
    if (pipeline_.operators[i]->seals()) im.sealers.push_back(i);
  im.source_probe =
      std::make_unique<ConnectorProbe>(metrics_, pname, pipeline_.source->describe(), "source");
  for (size_t r = 0; r < kRouteCount; ++r)
    if (pipeline_.sinks[r])
      im.sink_probes[r] =
          std::make_unique<ConnectorProbe>(metrics_, pname, pipeline_.sinks[r]->describe(),
                                           std::string(route_name(static_cast<Route>(r))));
  for (size_t i = 0; i < pipeline_.operators.size(); ++i) {
    const bool st = pipeline_.operators[i]->stateful();
    if (im.groups.empty() || im.groups.back().stateful || st)
      im.groups.push_back(StageGroup{st, {}});
    im.groups.back().ops.push_back(i);
  }
  im.frames_counter = &metrics_.counters("assay_input_frames_total", "Input records (frames) read")
                           .Add({{"pipeline", pname}});
  im.rows_counter = &metrics_
                         .counters("assay_input_readings_total",
                                   "Readings decoded from input records (plus undecodable records)")
                         .Add({{"pipeline", pname}});
  im.in_flight = &metrics_.gauges("assay_batches_in_flight", "Batches inside the pipeline")
                      .Add({{"pipeline", pname}});
}

Runner::~Runner() = default;

const RouteProbe& Runner::routes() const {
  return impl_->routes;
}

std::map<int32_t, Offset> Runner::revoke(std::span<const Partition> partitions) {
  std::lock_guard<std::mutex> lock(own_mu_);
  std::map<int32_t, Offset> out;
  std::vector<SealLane*> closed;
  if (!impl_->sealers.empty()) {
    // No seal step starts on these partitions until they are handed over, and none runs.
    {
      std::unique_lock<std::mutex> seal_lock(impl_->seal_mu);
      for (Partition p : partitions) {
        SealLane& lane = impl_->lanes[p.value()];
        lane.closed = true;
        impl_->quiesce_lane(lane, seal_lock);
        closed.push_back(&lane);
      }
    }
    // Chains move with the partition: write what they already cover, close their open ranges
    // (a checkpoint over what was written), and deliver everything before the next owner reads
    // the outputs back. (Not after a failure: a checkpoint must never cover records that were
    // not written.)
    for (Partition p : partitions) impl_->write_sealed_ahead(p.value());
    if (impl_->healthy() && !tracker_.failed())
      for (Partition p : partitions) impl_->close_seals(p.value());
    for (Route r : {Route::kTrusted, Route::kAttestations})
      if (Sink* s = pipeline_.sinks[static_cast<size_t>(r)].get(); s && !s->flush(30000))
        impl_->fail("route " + std::string(route_name(r)) +
                    ": flush before handing over partitions failed: " + s->error());
  }
  // Exactly-once: what was written so far (final checkpoints included) is committed with its
  // offsets before the partitions move (KIP-447); the source commits nothing itself.
  if (pipeline_.txn) impl_->maybe_commit(true);
  for (Partition p : partitions) {
    {
      std::lock_guard<std::mutex> epoch_lock(epoch_mu_);
      ++epochs_[p.value()];
    }
    if (auto c = tracker_.committable(p); c && !pipeline_.txn) out[p.value()] = *c;
    tracker_.drop_partition(p);
  }
  // The chains are re-read on reassignment; batches of these partitions still in flight are
  // skipped by the seal stage (epoch).
  for (SealLane* lane : closed) {
    impl_->reset_lane(*lane);
    std::lock_guard<std::mutex> seal_lock(impl_->seal_mu);
    lane->closed = false;
  }
  // Per-partition process state goes with the partition (its next owner restores the durable
  // part); batches of it still in flight are skipped by their stateful stages (epoch).
  for (size_t i = 0; i < pipeline_.operators.size(); ++i) {
    if (!pipeline_.operators[i]->stateful()) continue;
    std::lock_guard<std::mutex> state_lock(impl_->state_mu[i]);
    for (Partition p : partitions) impl_->states[i].erase(p.value());
  }
  return out;
}

bool Runner::assigned(std::span<const Partition> partitions) {
  if (!pipeline_.state) return true;
  return impl_->restore_partitions(partitions);
}

// Fresh states of operator i for `parts`, each with every entry the store holds for it
// (counts[k] entries for parts[k]); false with a message naming the store's place and the
// record if a stored state cannot be used.
bool Runner::Impl::restore_states(size_t i, std::span<const Partition> parts,
                                  std::vector<std::unique_ptr<OperatorState>>* out,
                                  std::vector<uint64_t>* counts, std::string* err) {
  const size_t k = static_cast<size_t>(durable[i]);
  const StateOperator& so = p.state_ops[k];
  out->clear();
  counts->assign(parts.size(), 0);
  std::map<int32_t, size_t> index;
  for (size_t j = 0; j < parts.size(); ++j) {
    out->push_back(p.operators[i]->make_state(parts[j]));
    index[parts[j].value()] = j;
  }
  std::string bad, read_error;
  const bool ok = p.state->restore(
      k, parts,
      [&](Partition part, std::span<const uint8_t> bytes, int64_t position) {
        const auto it = index.find(part.value());
        if (it == index.end()) return true;  // not asked for
        StateRecord rec;
        std::string reason;
        if (!decode_state_record(bytes, &rec, &reason)) {
        } else if (rec.op_type != so.type) {
          reason =
              "written by operator type '" + std::string(rec.op_type) + "', not '" + so.type + "'";
        } else if (!(*out)[it->second]->merge_entry(rec.entry)) {
          reason = "the entry of key '" + std::string(rec.key.substr(0, 200)) +
                   "' is not a valid " + so.type +
                   " state entry (corrupt, or an incompatible version)";
        } else {
          ++(*counts)[it->second];
          return true;
        }
        bad = p.state->describe(k, part.value()) + " at offset " + std::to_string(position) + ": " +
              reason;
        return false;
      },
      &read_error);
  if (!bad.empty() || !ok) {
    *err = "state of operator '" + so.stage + "': " + (bad.empty() ? read_error : bad) +
           " (the pipeline does not start from empty state by itself: `assay state reset` "
           "does, and records it in the audit log)";
    return false;
  }
  uint64_t n = 0;
  for (uint64_t c : *counts) n += c;
  restored_counters[k]->Increment(static_cast<double>(n));
  self.stats_.state_restored.fetch_add(n, std::memory_order_relaxed);
  return true;
}

std::unique_ptr<OperatorState> Runner::Impl::restore_state(size_t i, Partition part,
                                                           std::string* err) {
  std::vector<std::unique_ptr<OperatorState>> out;
  std::vector<uint64_t> counts;
  const Partition parts[1] = {part};
  if (!restore_states(i, parts, &out, &counts, err)) return nullptr;
  return std::move(out.front());
}

// Restores the durable state of every durable operator for `parts` (on assignment, before any
// of their records is read; each operator's partitions are read together); fails the run if a
// stored state cannot be used.
bool Runner::Impl::restore_partitions(std::span<const Partition> parts) {
  if (parts.empty()) return true;
  self.restoring_.fetch_add(static_cast<int>(parts.size()));
  restoring_gauge->Increment(static_cast<double>(parts.size()));
  const int64_t t0 = monotonic_ns();
  std::vector<uint64_t> total(parts.size(), 0);
  bool ok = true;
  for (size_t i = 0; i < p.operators.size() && ok; ++i) {
    if (durable[i] < 0) continue;
    std::vector<std::unique_ptr<OperatorState>> restored;
    std::vector<uint64_t> counts;
    std::string err;
    if (!restore_states(i, parts, &restored, &counts, &err)) {
      log_error("runner", "partition state cannot be restored",
                {{"pipeline", p.info.name}, {"error", err}});
      fail(err);
      self.stop_.store(true);
      ok = false;
      break;
    }
    std::lock_guard<std::mutex> lock(state_mu[i]);
    for (size_t j = 0; j < parts.size(); ++j) {
      states[i][parts[j].value()] =
          StateSlot{std::move(restored[j]), current_epoch(parts[j].value())};
      total[j] += counts[j];
    }
  }
  if (ok) {
    std::string names, entries;
    for (size_t j = 0; j < parts.size(); ++j) {
      names += (j ? "," : "") + std::to_string(parts[j].value());
      entries += (j ? "," : "") + std::to_string(total[j]);
    }
    log_info("runner", "partition state restored",
             {{"pipeline", p.info.name},
              {"partitions", names},
              {"entries", entries},
              {"seconds", std::to_string((monotonic_ns() - t0) * 1e-9)}});
  }
  self.restoring_.fetch_sub(static_cast<int>(parts.size()));
  restoring_gauge->Decrement(static_cast<double>(parts.size()));
  return ok;
}

void Runner::source_failed(const std::string& message) {
  impl_->fail(message);
  stop_.store(true);
}

bool Runner::ready() const {
  return running_.load() && !stop_.load() && restoring_.load() == 0 && pipeline_.source &&
         pipeline_.source->healthy();
}

RunSummary Runner::run() {
  RunSummary summary;
  const int64_t t0 = monotonic_ns();
  Pipeline& p = pipeline_;
  Impl& im = *impl_;
  std::string err;
  if (!im.start(&err)) {
    summary.ok = false;
    summary.error = err;
    return summary;
  }
  running_.store(true);
  log_info("runner", "pipeline started",
           {{"pipeline", p.info.name},
            {"input", p.source->describe()},
            {"operators", std::to_string(p.operators.size())},
            {"batch_size", std::to_string(p.engine.batch_size)},
            {"max_in_flight", std::to_string(p.engine.max_in_flight)}});

  // The stages, wired: read → decode → operator groups → encode → (seal) → write. TBB hands a batch
  // from stage to stage, and a serial stage's state from call to call, through atomics
  // ThreadSanitizer cannot see; the tsan:: calls state those hand-overs (nothing otherwise).
  using tbb::filter_mode;
  [[maybe_unused]] char done_sync = 0;  // every stage's writes, seen after the pipeline ends
  auto handed = [&done_sync](const void* serial_sync, auto fn) {
    return [&done_sync, serial_sync, fn](Batch* b) {
      tsan::receive();
      tsan::acquire(b);
      if (serial_sync != nullptr) tsan::acquire(serial_sync);
      Batch* out = fn(b);
      if (serial_sync != nullptr) tsan::release(serial_sync);
      tsan::release(out);
      tsan::release(&done_sync);
      return out;
    };
  };
  tbb::filter<Batch*, Batch*> middle = tbb::make_filter<Batch*, Batch*>(
      filter_mode::parallel, handed(nullptr, [&](Batch* b) { return im.decode(b); }));
  for (const StageGroup& g : im.groups)
    middle = middle & tbb::make_filter<Batch*, Batch*>(
                          g.stateful ? filter_mode::serial_in_order : filter_mode::parallel,
                          handed(g.stateful ? static_cast<const void*>(&g) : nullptr,
                                 [&, ops = g.ops](Batch* b) {
                                   for (size_t i : ops) im.run_operator(i, *b);
                                   return b;
                                 }));
  middle =
      middle & tbb::make_filter<Batch*, Batch*>(
                   filter_mode::parallel, handed(nullptr, [&](Batch* b) { return im.encode(b); }));
  // Sealing: parallel across partitions, in input order within one (its lanes, under seal_mu).
  if (!im.sealers.empty())
    middle =
        middle & tbb::make_filter<Batch*, Batch*>(
                     filter_mode::parallel, handed(nullptr, [&](Batch* b) { return im.seal(b); }));
  [[maybe_unused]] char read_sync = 0, write_sync = 0;
  const tbb::filter<void, void> chain =
      tbb::make_filter<void, Batch*>(filter_mode::serial_in_order,
                                     [&](tbb::flow_control& fc) {
                                       tsan::receive();
                                       tsan::acquire(&read_sync);
                                       Batch* b = im.read(fc);
                                       tsan::release(&read_sync);
                                       if (b != nullptr) tsan::release(b);
                                       tsan::release(&done_sync);
                                       return b;
                                     }) &
      middle & tbb::make_filter<Batch*, void>(filter_mode::serial_in_order, [&](Batch* b) {
        tsan::receive();
        tsan::acquire(b);
        tsan::acquire(&write_sync);
        im.write(b);
        tsan::release(&write_sync);
        tsan::release(&done_sync);
      });
  {
    tbb::task_arena arena(p.engine.threads > 0 ? p.engine.threads : tbb::task_arena::automatic);
    // Everything set up so far (start(), the stages' bodies), seen by the first read, and
    // through each batch's hand-overs by every later stage.
    tsan::publish();
    arena.execute([&] { tbb::parallel_pipeline(p.engine.max_in_flight, chain); });
    tsan::acquire(&done_sync);
  }
  im.drain();
  im.stop_all();
  running_.store(false);

  summary.frames_in = stats_.frames_in.load();
  summary.rows_in = stats_.rows_in.load();
  // The readings of the trusted records their sink confirmed (a record whose write failed
  // later, at a flush, is not trusted output). A record is one reading, or a group's
  // (engine.trusted_records: grouped); acknowledgements count records, so an unconfirmed record
  // is taken as one reading: exact unless a grouped record went unconfirmed (the run then
  // reports it in `unconfirmed`).
  {
    const uint64_t records = im.routes.records(Route::kTrusted);
    const uint64_t confirmed = std::min(im.routes.confirmed(Route::kTrusted), records);
    summary.trusted = im.routes.readings(Route::kTrusted) - (records - confirmed);
  }
  summary.rejected = im.routes.readings(Route::kRejected);
  summary.alerts = im.routes.records(Route::kAlerts);
  summary.rejected_by_reason = im.routes.rejected_by_reason();
  summary.unconfirmed = im.routes.unconfirmed();
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
            {"unconfirmed", std::to_string(summary.unconfirmed)},
            {"error", summary.error}});
  return summary;
}

}  // namespace assay::engine
