#include "operators/anomaly.hpp"

#include <algorithm>
#include <limits>

#include "formats/state_codec.hpp"
#include "registries/pipeline.hpp"
#include "schemas/common_generated.h"
#include "schemas/reading_generated.h"

namespace assay::operators {

// One snapshot layout for every stateful checker (formats/ and operators/).
using formats::SnapshotReader;
using formats::SnapshotWriter;

namespace {

using engine::RejectCode;
using wire::AnomalyFlag;

constexpr uint32_t bit(AnomalyFlag f) {
  return static_cast<uint32_t>(f);
}

constexpr char kMagic[4] = {'A', 'A', 'N', 'M'};
constexpr uint16_t kVersion = 1;

// Rejection order when several flags of the reject mask are set.
constexpr std::pair<AnomalyFlag, RejectCode> kRejectOrder[] = {
    {AnomalyFlag::RateLimited, RejectCode::kAnomalyRateLimited},
    {AnomalyFlag::Replay, RejectCode::kAnomalyReplay},
    {AnomalyFlag::FutureTimestamp, RejectCode::kAnomalyFutureTimestamp},
    {AnomalyFlag::OutsidePhysicalRange, RejectCode::kAnomalyOutsidePhysicalRange},
    {AnomalyFlag::Gap, RejectCode::kAnomalyGap},
    {AnomalyFlag::ClockSkew, RejectCode::kAnomalyClockSkew},
    {AnomalyFlag::Stuck, RejectCode::kAnomalyStuck},
    {AnomalyFlag::Spike, RejectCode::kAnomalySpike},
};

constexpr std::pair<std::string_view, AnomalyFlag> kFlagNames[] = {
    {"replay", AnomalyFlag::Replay},
    {"gap", AnomalyFlag::Gap},
    {"clock_skew", AnomalyFlag::ClockSkew},
    {"future_timestamp", AnomalyFlag::FutureTimestamp},
    {"outside_physical_range", AnomalyFlag::OutsidePhysicalRange},
    {"spike", AnomalyFlag::Spike},
    {"stuck", AnomalyFlag::Stuck},
    {"rate_limited", AnomalyFlag::RateLimited},
};

// a - b without overflow (saturating).
int64_t sat_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return a < b ? INT64_MIN : INT64_MAX;
  return r;
}

// Median of n <= kMaxSpikeWindow values (sorts v in place: branchless odd-even
// transposition sort, n passes of compare-exchange).
float median_of(float* v, int n) {
  for (int pass = 0; pass < n; ++pass)
    for (int i = pass & 1; i + 1 < n; i += 2) {
      const float a = std::min(v[i], v[i + 1]);
      const float b = std::max(v[i], v[i + 1]);
      v[i] = a;
      v[i + 1] = b;
    }
  return (n % 2) != 0 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

Anomaly::Anomaly(AnomalyConfig config)
    : config_(std::move(config)),
      ranges_(std::make_unique<std::pair<double, double>[]>(kMaxRanges)) {
  ranges_[0] = {config_.default_min, config_.default_max};
}

std::unique_ptr<engine::OperatorState> Anomaly::make_state(engine::Partition) const {
  return std::make_unique<AnomalyState>(config_.spike_window);
}

uint32_t Anomaly::range_index(const registries::IdentityRegistry* registry,
                              std::string_view sensor_id) const {
  const registries::SensorInfo* info =
      registry != nullptr ? registry->find_sensor(sensor_id) : nullptr;
  if (info == nullptr || (!info->range_min && !info->range_max)) return 0;
  const std::pair<double, double> r{info->range_min.value_or(-HUGE_VAL),
                                    info->range_max.value_or(HUGE_VAL)};
  std::lock_guard<std::mutex> lock(range_mu_);
  auto it = range_ids_.find(r);
  if (it != range_ids_.end()) return it->second;
  if (range_count_ >= kMaxRanges) return 0;
  ranges_[range_count_] = r;
  range_ids_.emplace(r, range_count_);
  return range_count_++;
}

void Anomaly::process(engine::Batch& b, engine::OperatorState* state,
                      engine::OperatorContext& ctx) const {
  auto& st = static_cast<AnomalyState&>(*state);
  const AnomalyConfig& c = config_;
  // The registry changed since the ranges were looked up: look them up again.
  // (Generation first: the snapshot read after it is at least as new.)
  const uint64_t generation = c.identity ? c.identity->generation() : 0;
  const std::shared_ptr<const registries::IdentityRegistry> registry =
      c.identity ? c.identity->current() : nullptr;
  if (st.identity_generation != generation) {
    st.identity_generation = generation;
    st.table.for_each_value([](AnomalySensor& a) { a.range = UINT32_MAX; });
  }
  // rate >= 0.001 and burst <= 1e9 (config): emission <= 1e12 ns, tolerance <= 1e21 -> clamped.
  const double emission_ns = c.rate > 0 ? 1e9 / c.rate : 0;
  const auto emission = static_cast<int64_t>(emission_ns);
  const auto tolerance = static_cast<int64_t>(std::min((c.burst - 1) * emission_ns, 4e18));
  const int w = c.spike_window;
  thread_local std::vector<uint64_t> hashes;
  hash_selected_sensors(b, hashes);
  const size_t rows = b.sel.size();
  for (size_t j = 0; j < rows; ++j) {
    prefetch_ahead(st.table, hashes, j);
    const uint32_t r = b.sel[j];
    const wire::Reading* rd = b.row_reading[r];
    if (rd == nullptr || b.row_reject[r] != RejectCode::kNone || rd->sensor_id() == nullptr)
      continue;
    AnomalySensor* a = st.table.find_or_insert(rd->sensor_id()->string_view(), hashes[j]);
    if (a == nullptr) continue;  // table full: the sensor is not tracked
    uint32_t flags = 0;
    auto finish = [&](bool force_reject, RejectCode force_code) {
      b.row_anomaly[r] |= flags;
      if (force_reject) {
        b.reject_row(r, force_code, ctx.stage);
        return true;
      }
      const uint32_t rej = flags & c.reject_mask;
      if (rej == 0) return false;
      for (const auto& [f, code] : kRejectOrder)
        if ((rej & bit(f)) != 0) {
          b.reject_row(r, code, ctx.stage);
          break;
        }
      return true;
    };
    // The row's "now": its frame's record time (the Kafka timestamp), never the wall clock;
    // without one (file input), the rate limit counts in sensor time (docs/drift-anomaly.md).
    const engine::Frame& frame = b.frames[b.row_frame[r]];
    const bool has_record_time = frame.record_time_type != engine::RecordTimeType::kNone;
    // In sensor time a replay's old time would read as a burst: replays are left to the
    // sequence check below (they never touch the state).
    const bool replay_in_sensor_time = !has_record_time && frame.sequenced &&
                                       a->has_seq != 0 && rd->seq() <= a->last_seq;
    // Rate limit first: a flooding sensor costs one table lookup per reading.
    if (emission > 0 && !replay_in_sensor_time) {
      const int64_t now = has_record_time ? frame.record_time_ns : rd->time_ns();
      const int64_t tat = std::max(a->tat_ns, now);
      if (sat_sub(tat, now) > tolerance) {
        flags |= bit(AnomalyFlag::RateLimited);
        if ((c.reject_mask & flags) != 0) {
          finish(false, RejectCode::kNone);
          continue;
        }
      } else {
        a->tat_ns = tat > INT64_MAX - emission ? INT64_MAX : tat + emission;
      }
    }
    const double x = rd->value();
    const double u = rd->std_uncertainty();
    const bool reference = rd->kind() == wire::ReadingKind::ReferenceCheck;
    if (!std::isfinite(x) || !std::isfinite(u) ||
        (reference && !std::isfinite(rd->reference_value()))) {
      finish(true, RejectCode::kValueNotFinite);
      continue;
    }
    // Sequence: replay, gap, suspect jump.
    const uint64_t seq = rd->seq();
    const bool sequenced = frame.sequenced;
    if (sequenced && a->has_seq != 0) {
      if (seq <= a->last_seq) {
        flags |= bit(AnomalyFlag::Replay);
        finish(false, RejectCode::kNone);
        continue;  // a replay never touches the state, rejected or not
      }
      if (seq - a->last_seq > c.max_gap) {
        flags |= bit(AnomalyFlag::Gap);
        a->pending_run = (a->pending_run > 0 && seq == a->pending_seq + 1) ? a->pending_run + 1 : 1;
        a->pending_seq = seq;
        if (a->pending_run < c.resync) {
          finish(true, RejectCode::kAnomalyGap);
          continue;
        }
      } else {
        a->pending_run = 0;
        if (seq != a->last_seq + 1) flags |= bit(AnomalyFlag::Gap);
      }
    }
    // Clock: sensor time against the record time (off without one).
    if (has_record_time) {
      const int64_t d = sat_sub(rd->time_ns(), frame.record_time_ns);
      if (d > c.future_tolerance_ns) flags |= bit(AnomalyFlag::FutureTimestamp);
      if (d > c.clock_skew_tolerance_ns || d < -c.clock_skew_tolerance_ns)
        flags |= bit(AnomalyFlag::ClockSkew);
    }
    // Physical range.
    if (a->range == UINT32_MAX)
      a->range = range_index(registry.get(), rd->sensor_id()->string_view());
    const auto& [lo, hi] = ranges_[a->range];
    const bool outside = x < lo || x > hi;  // false for NaN bounds
    if (outside) flags |= bit(AnomalyFlag::OutsidePhysicalRange);
    // Stuck: identical consecutive values (of any kind: a reference check that repeats the
    // previous measurement is as stuck as a measurement).
    if (!outside) {
      if (a->has_value == 0) {
        a->anchor = x;
        a->has_value = 1;
        a->stuck_run = 1;
      } else {
        a->stuck_run =
            x == a->last_value ? static_cast<uint16_t>(std::min<int>(a->stuck_run + 1, 65535)) : 1;
        if (a->stuck_run >= c.stuck_count) flags |= bit(AnomalyFlag::Stuck);
      }
      a->last_value = x;
    }
    // Spike: Hampel filter over the previous measurements (reference checks measure a
    // standard, not the process: they neither enter nor are judged by the window).
    if (!reference && !outside) {
      const auto dx = static_cast<float>(x - a->anchor);
      // Judged once the window holds 3 values (the first readings of a sensor cannot be).
      const int held = a->win_count;
      if (held >= 3) {
        std::array<float, kMaxSpikeWindow> v;
        std::copy_n(a->window.begin(), held, v.begin());
        const float med = median_of(v.data(), held);
        for (int i = 0; i < held; ++i) v[i] = std::fabs(a->window[i] - med);
        const double mad = median_of(v.data(), held);
        const double scale = std::max(1.4826 * mad, c.spike_min_sigma * u);
        if (scale > 0 && std::fabs(dx - med) > c.spike_threshold * scale)
          flags |= bit(AnomalyFlag::Spike);
      }
      if (a->win_count < w) ++a->win_count;
      a->window[a->win_pos] = std::isfinite(dx) ? dx : 0.0f;
      a->win_pos = static_cast<uint8_t>((a->win_pos + 1) % w);
    }
    // The sequence advances for every reading that passed the sequence check, rejected for
    // another reason or not: its seq was used, and a later copy of it is a replay.
    if (sequenced) {
      a->last_seq = seq;
      a->has_seq = 1;
      a->pending_run = 0;
    }
    finish(false, RejectCode::kNone);
  }
}

namespace {

void put_anomaly_entry(SnapshotWriter& w, std::string_view id, const AnomalySensor& a) {
  w.put_string(id);
  w.put(a.last_seq);
  w.put(a.pending_seq);
  w.put(a.tat_ns);
  w.put(a.last_value);
  w.put(a.anchor);
  for (float f : a.window) w.put(f);
  w.put(a.stuck_run);
  w.put(a.win_count);
  w.put(a.win_pos);
  w.put(a.pending_run);
  w.put(a.has_seq);
  w.put(a.has_value);
}

// Reads one entry written by put_anomaly_entry under a snapshot of Hampel window `window`,
// for a state whose window is `own_window`.
bool get_anomaly_entry(SnapshotReader& rd, int window, int own_window, std::string_view* id,
                       AnomalySensor* out) {
  AnomalySensor a;
  if (!rd.get_string(*id, 1u << 20) || id->empty()) return false;
  if (!rd.get(a.last_seq) || !rd.get(a.pending_seq) || !rd.get(a.tat_ns) ||
      !rd.get_finite(a.last_value) || !rd.get_finite(a.anchor))
    return false;
  for (float& f : a.window)
    if (!rd.get_finite(f)) return false;
  if (!rd.get(a.stuck_run) || !rd.get(a.win_count) || !rd.get(a.win_pos) ||
      !rd.get(a.pending_run) || !rd.get(a.has_seq) || !rd.get(a.has_value))
    return false;
  if (a.win_count > window || a.win_pos >= window || a.has_seq > 1 || a.has_value > 1) return false;
  if (window != own_window) a.win_count = a.win_pos = 0;  // window size changed: refill
  a.range = UINT32_MAX;
  *out = a;
  return true;
}

}  // namespace

std::vector<uint8_t> AnomalyState::snapshot() const {
  SnapshotWriter w(kMagic, kVersion, static_cast<uint16_t>(window_), table.size());
  table.for_each([&](std::string_view id, const AnomalySensor& a) { put_anomaly_entry(w, id, a); });
  return w.finish();
}

bool AnomalyState::restore(std::span<const uint8_t> bytes) {
  SnapshotReader rd;
  uint16_t window = 0;
  uint64_t count = 0;
  if (!rd.open(bytes, kMagic, kVersion, &window, &count)) return false;
  if (window < 3 || window > kMaxSpikeWindow) return false;
  if (count > rd.remaining() / 88) return false;  // an entry is at least 88 bytes
  SensorTable<AnomalySensor> t;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view id;
    AnomalySensor a;
    if (!get_anomaly_entry(rd, window, window_, &id, &a)) return false;
    bool inserted = false;
    AnomalySensor* slot = t.find_or_insert(id, &inserted);
    if (slot == nullptr || !inserted) return false;  // duplicate id
    *slot = a;
  }
  if (!rd.at_end()) return false;
  table.swap(t);
  return true;
}

void AnomalyState::changed_entries(const engine::Batch& batch, std::span<const uint32_t> rows,
                                   const engine::StateEntryFn& fn) const {
  for_each_distinct_sensor(batch, rows, [&](std::string_view id) {
    const AnomalySensor* a = table.find(id);
    if (a == nullptr) return;  // not tracked (rejected before it was seen, or table full)
    SnapshotWriter w(kMagic, kVersion, static_cast<uint16_t>(window_), 1);
    put_anomaly_entry(w, id, *a);
    const std::vector<uint8_t> entry = w.finish();
    fn(id, entry);
  });
}

bool AnomalyState::merge_entry(std::span<const uint8_t> entry) {
  SnapshotReader rd;
  uint16_t window = 0;
  uint64_t count = 0;
  if (!rd.open(entry, kMagic, kVersion, &window, &count) || count != 1) return false;
  if (window < 3 || window > kMaxSpikeWindow) return false;
  std::string_view id;
  AnomalySensor a;
  if (!get_anomaly_entry(rd, window, window_, &id, &a) || !rd.at_end()) return false;
  AnomalySensor* slot = table.find_or_insert(id);
  if (slot == nullptr) return false;
  *slot = a;
  return true;
}

std::unique_ptr<engine::Operator> Anomaly::from_config(const engine::ConfigNode& c,
                                                       engine::BuildContext& ctx) {
  AnomalyConfig cfg;
  cfg.identity = registries::identity_store_for(c, ctx);
  if (auto pr = c.maybe("physical_range")) {
    cfg.default_min = pr->get_double("min", std::nan(""));
    cfg.default_max = pr->get_double("max", std::nan(""));
    if (cfg.default_min > cfg.default_max) pr->fail("min must not be greater than max");
    pr->finish();
  }
  cfg.max_gap = static_cast<uint64_t>(c.get_int("max_gap", 1'000'000, 1, INT64_MAX));
  cfg.resync = static_cast<uint32_t>(c.get_int("resync", 3, 1, 255));
  cfg.clock_skew_tolerance_ns =
      c.get_int("clock_skew_tolerance_ms", 300'000, 0, 365LL * 86400 * 1000) * 1'000'000;
  cfg.future_tolerance_ns =
      c.get_int("future_tolerance_ms", 60'000, 0, 365LL * 86400 * 1000) * 1'000'000;
  if (auto sp = c.maybe("spike")) {
    cfg.spike_window = static_cast<int>(sp->get_int("window", 7, 3, kMaxSpikeWindow));
    cfg.spike_threshold = sp->get_double("threshold", 3.5);
    cfg.spike_min_sigma = sp->get_double("min_sigma", 1.0);
    if (!(cfg.spike_threshold > 0) || !(cfg.spike_min_sigma >= 0))
      sp->fail("threshold must be > 0 and min_sigma >= 0");
    sp->finish();
  }
  if (auto su = c.maybe("stuck")) {
    cfg.stuck_count = static_cast<uint32_t>(su->get_int("count", 10, 2, 65535));
    su->finish();
  }
  if (auto rl = c.maybe("rate_limit")) {
    cfg.rate = rl->get_double("rate", 100);
    cfg.burst = rl->get_double("burst", 200);
    if (!(cfg.rate == 0 || (cfg.rate >= 1e-3 && cfg.rate <= 1e9)) ||
        !(cfg.burst >= 1 && cfg.burst <= 1e9))
      rl->fail("rate must be 0 (off) or in [0.001, 1e9], burst in [1, 1e9]");
    rl->finish();
  }
  std::vector<std::string_view> reject = {"replay", "future_timestamp", "rate_limited",
                                          "outside_physical_range"};
  std::vector<std::string> names;
  if (auto rj = c.maybe("reject")) {
    reject.clear();
    for (const auto& item : rj->items()) {
      names.push_back(item.as_string());
      bool known = false;
      for (const auto& [n, f] : kFlagNames) known = known || n == names.back();
      if (!known)
        item.fail("unknown flag '" + names.back() +
                  "' (known: replay, gap, clock_skew, future_timestamp, outside_physical_range, "
                  "spike, stuck, rate_limited)");
    }
    reject.assign(names.begin(), names.end());
  }
  for (std::string_view n : reject)
    for (const auto& [name, f] : kFlagNames)
      if (name == n) cfg.reject_mask |= bit(f);
  return std::make_unique<Anomaly>(std::move(cfg));
}

}  // namespace assay::operators
