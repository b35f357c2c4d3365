#include "operators/drift.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

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

constexpr char kMagic[4] = {'A', 'D', 'R', 'F'};
constexpr uint16_t kVersion = 2;   // 2: + a group member's recent values; 1 still read
constexpr size_t kMaxOthers = 15;  // members compared at most (the first ones of a group)

constexpr std::string_view kKinds[] = {"drift.cusum", "drift.ewma", "drift.page_hinkley",
                                       "drift.reference_check", "drift.redundancy"};

constexpr std::pair<std::string_view, wire::AnomalyFlag> kFlagNames[] = {
    {"replay", wire::AnomalyFlag::Replay},
    {"gap", wire::AnomalyFlag::Gap},
    {"clock_skew", wire::AnomalyFlag::ClockSkew},
    {"future_timestamp", wire::AnomalyFlag::FutureTimestamp},
    {"outside_physical_range", wire::AnomalyFlag::OutsidePhysicalRange},
    {"spike", wire::AnomalyFlag::Spike},
    {"stuck", wire::AnomalyFlag::Stuck},
    {"rate_limited", wire::AnomalyFlag::RateLimited},
};

// Alert level (wire::AlertLevel) of a drift level: ok -> Info, warning -> Warning, alarm -> Alarm.
uint8_t alert_level(Level l) {
  return l == Level::kAlarm ? 2 : l == Level::kWarning ? 1 : 0;
}

// a - b without overflow (saturating).
int64_t sat_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return a < b ? INT64_MIN : INT64_MAX;
  return r;
}

double median_small(std::array<double, kMaxOthers>& v, size_t n) {
  std::sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
  return (n % 2) != 0 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::string_view detector_kind(Detector d) {
  return kKinds[static_cast<size_t>(d)];
}

std::shared_ptr<const GroupTable> GroupTable::build(
    const registries::IdentityRegistry* registry,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& inline_groups,
    uint64_t generation) {
  auto t = std::make_shared<GroupTable>();
  t->generation = generation;
  std::unordered_map<std::string, uint32_t> group_of_name;
  auto add = [&](const std::string& group, const std::string& sensor_id) {
    if (group.empty() || t->member_of.count(sensor_id) != 0) return;  // first declaration wins
    auto [it, fresh] = group_of_name.emplace(group, static_cast<uint32_t>(t->groups.size()));
    if (fresh) t->groups.emplace_back();
    const auto m = static_cast<int32_t>(t->member_group.size());
    t->member_of.emplace(sensor_id, m);
    t->member_id.push_back(sensor_id);
    t->member_group.push_back(it->second);
    t->groups[it->second].push_back(static_cast<uint32_t>(m));
  };
  // The registry's groups in sensor-id order (a snapshot's map order is not stable).
  if (registry != nullptr) {
    std::vector<std::pair<std::string_view, std::string_view>> members;
    registry->for_each_sensor([&](const registries::SensorInfo& s) {
      if (!s.redundancy_group.empty()) members.emplace_back(s.sensor_id, s.redundancy_group);
    });
    std::sort(members.begin(), members.end());
    for (const auto& [id, group] : members) add(std::string(group), std::string(id));
  }
  for (const auto& [name, ids] : inline_groups)
    for (const auto& id : ids) add(name, id);
  size_t cap = 16;
  while (cap < 2 * t->member_of.size()) cap *= 2;
  t->member_hashes.assign(cap, 0);
  for (const auto& [id, m] : t->member_of) {
    const uint64_t h = sensor_id_hash(id) | 1;
    size_t i = h & (cap - 1);
    while (t->member_hashes[i] != 0) i = (i + 1) & (cap - 1);
    t->member_hashes[i] = h;
  }
  return t;
}

bool GroupTable::maybe_member(uint64_t h) const {
  if (member_of.empty()) return false;
  h |= 1;
  const size_t mask = member_hashes.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (member_hashes[i] == h) return true;
    if (member_hashes[i] == 0) return false;
  }
}

int32_t GroupTable::member(std::string_view sensor_id) const {
  if (member_of.empty()) return -1;
  auto it = member_of.find(sensor_id);
  return it == member_of.end() ? -1 : it->second;
}

Drift::Drift(DriftConfig config) : config_(std::move(config)) {
  const uint64_t gen = config_.identity ? config_.identity->generation() : 0;
  groups_ = GroupTable::build(config_.identity ? config_.identity->current().get() : nullptr,
                              config_.groups, gen);
  members_.resize(groups_->member_group.size());
}

std::shared_ptr<const GroupTable> Drift::current_groups() const {
  std::lock_guard<std::mutex> lock(group_mu_);
  if (!config_.identity || config_.identity->generation() == groups_->generation) return groups_;
  const uint64_t gen = config_.identity->generation();  // before the snapshot: see anomaly
  auto next = GroupTable::build(config_.identity->current().get(), config_.groups, gen);
  // A member keeps its recent values when it stays a member (even of another group).
  std::vector<Member> moved(next->member_group.size());
  for (size_t m = 0; m < next->member_id.size(); ++m)
    if (const int32_t old = groups_->member(next->member_id[m]); old >= 0) moved[m] = members_[old];
  members_.swap(moved);
  groups_ = std::move(next);
  return groups_;
}

size_t Drift::shared_memory_bytes() const {
  const auto t = current_groups();
  std::lock_guard<std::mutex> lock(group_mu_);
  size_t n = members_.capacity() * sizeof(Member) + t->member_group.capacity() * sizeof(uint32_t);
  for (const auto& g : t->groups) n += g.capacity() * sizeof(uint32_t) + sizeof(g);
  for (const auto& [id, m] : t->member_of) n += 2 * id.capacity() + 48;
  return n;
}

void Drift::Member::add(double v, int64_t t) {
  if (count > 0 && t <= time_ns[head]) return;
  head = static_cast<uint8_t>((head + 1) % kRing);
  value[head] = v;
  time_ns[head] = t;
  if (count < kRing) ++count;
}

bool Drift::Member::at(int64_t t, int64_t max_age, double* v, double* var_factor) const {
  if (count < 2) return false;
  auto idx = [&](int back) { return (head + kRing - back) % kRing; };
  const int64_t newest = time_ns[head];
  const int64_t span = newest - time_ns[idx(count - 1)];
  if (span <= 0 || span / (count - 1) > max_age) return false;
  // Least-squares line through the values held (times in seconds relative to the newest);
  // used from the oldest value to two mean intervals past the newest.
  const double tq = static_cast<double>(sat_sub(t, newest)) * 1e-9;
  const double mean_dt = static_cast<double>(span) * 1e-9 / (count - 1);
  if (tq < -static_cast<double>(span) * 1e-9 || tq > 2 * mean_dt) return false;
  double tb = 0, yb = 0;
  std::array<double, kRing> ts{};
  for (int k = 0; k < count; ++k) {
    ts[k] = static_cast<double>(time_ns[idx(k)] - newest) * 1e-9;
    tb += ts[k];
    yb += value[idx(k)] - value[head];
  }
  tb /= count;
  yb /= count;
  double sxx = 0, sxy = 0;
  for (int k = 0; k < count; ++k) {
    sxx += (ts[k] - tb) * (ts[k] - tb);
    sxy += (ts[k] - tb) * (value[idx(k)] - value[head] - yb);
  }
  if (!(sxx > 0)) return false;
  *v = value[head] + yb + sxy / sxx * (tq - tb);
  *var_factor = 1.0 / count + (tq - tb) * (tq - tb) / sxx;
  return true;
}

std::unique_ptr<engine::OperatorState> Drift::make_state(engine::Partition) const {
  return std::make_unique<DriftState>(this);
}

bool Drift::member_values(std::string_view sensor_id, Member* out) const {
  const auto t = current_groups();
  std::lock_guard<std::mutex> lock(group_mu_);
  const int32_t m = groups_->member(sensor_id);
  if (m < 0 || members_[static_cast<size_t>(m)].count == 0) return false;
  *out = members_[static_cast<size_t>(m)];
  return true;
}

void Drift::set_member_values(std::string_view sensor_id, const Member& v) const {
  const auto t = current_groups();
  std::lock_guard<std::mutex> lock(group_mu_);
  const int32_t m = groups_->member(sensor_id);
  if (m >= 0) members_[static_cast<size_t>(m)] = v;
}

void Drift::process(engine::Batch& b, engine::OperatorState* state,
                    engine::OperatorContext& ctx) const {
  auto& st = static_cast<DriftState&>(*state);
  const std::shared_ptr<const GroupTable> groups = current_groups();
  if (st.groups_generation != groups->generation) {  // membership changed: look it up again
    st.groups_generation = groups->generation;
    st.table.for_each_value([](DriftSensor& d) { d.member = -2; });
  }
  const DriftConfig& c = config_;
  thread_local std::vector<uint64_t> hashes;
  hash_selected_sensors(b, hashes);
  const size_t rows = b.sel.size();
  for (size_t j = 0; j < rows; ++j) {
    prefetch_ahead(st.table, hashes, j);
    const uint32_t r = b.sel[j];
    const wire::Reading* rd = b.row_reading[r];
    if (rd == nullptr || b.row_reject[r] != RejectCode::kNone || rd->sensor_id() == nullptr)
      continue;
    const std::string_view sid = rd->sensor_id()->string_view();
    const bool reference = rd->kind() == wire::ReadingKind::ReferenceCheck;
    // Sensors that are not group members and rows that are not reference checks, with no
    // state yet, are skipped after one probe of the (cache-resident) member hash set.
    DriftSensor* d = nullptr;
    if (!reference && !groups->maybe_member(hashes[j])) {
      d = st.table.find(sid, hashes[j]);  // a sensor that did reference checks earlier
      if (d == nullptr) continue;
    } else {
      d = st.table.find_or_insert(sid, hashes[j]);
    }
    if (d == nullptr) continue;  // table full
    if (d->member == -2) d->member = groups->member(sid);
    if (d->levels == 0) {
      if (!reference && d->member < 0) continue;  // no error source (yet): NotChecked
      for (size_t k = 0; k < static_cast<size_t>(Detector::kCount); ++k)
        d->set_level(static_cast<Detector>(k), Level::kOk);
    }
    // Value, sigma, expanded uncertainty and MPE (from `calibration` where it ran).
    const bool cal = b.row_calibration[r] != 0 && b.row_expanded_unc[r] > 0 &&
                     std::isfinite(b.row_expanded_unc[r]);
    const double x = cal ? b.row_corrected[r] : rd->value();
    const double u = rd->std_uncertainty();
    if (!std::isfinite(x) || !std::isfinite(u) ||
        (reference && !std::isfinite(rd->reference_value()))) {
      b.reject_row(r, RejectCode::kValueNotFinite, ctx.stage);
      continue;
    }
    double sigma = u > 0 ? u : c.default_sigma;
    if (cal && c.sigma_combined && b.row_coverage[r] > 0)
      sigma = b.row_expanded_unc[r] / b.row_coverage[r];
    const double expanded = cal ? b.row_expanded_unc[r] : c.coverage_factor * sigma;
    const double mpe = b.row_mpe[r] > 0 && std::isfinite(b.row_mpe[r]) ? b.row_mpe[r]
                       : c.mpe > 0                                     ? c.mpe
                                                                       : c.mpe_sigmas * sigma;
    const bool skip = (b.row_anomaly[r] & c.skip_mask) != 0 || !(sigma > 0) || !(mpe > 0);

    std::array<Level, static_cast<size_t>(Detector::kCount)> before{}, after{};
    std::array<double, static_cast<size_t>(Detector::kCount)> stat{};
    std::array<bool, static_cast<size_t>(Detector::kCount)> evaluated{};
    for (size_t k = 0; k < before.size(); ++k)
      before[k] = after[k] = d->level(static_cast<Detector>(k));
    const Level worst_before = *std::max_element(before.begin(), before.end());
    double z = 0;
    bool have_z = false;
    if (!skip && reference) {
      const double e = x - rd->reference_value();
      const size_t k = static_cast<size_t>(Detector::kReferenceCheck);
      after[k] = level_of(std::fabs(e), c.warning_fraction * mpe, mpe);
      stat[k] = e / mpe;
      evaluated[k] = true;
      z = e / sigma;
      have_z = true;
    } else if (!skip && d->member >= 0) {
      const auto m = static_cast<uint32_t>(d->member);
      std::array<double, kMaxOthers> vals{};
      double var_sum = 0, u2_sum = 0;
      size_t n = 0;
      {
        std::lock_guard<std::mutex> lock(group_mu_);
        for (uint32_t o : groups->groups[groups->member_group[m]]) {
          if (o == m || n == kMaxOthers) continue;
          const Member& om = members_[o];
          double v = 0, factor = 1;
          if (om.alarm != 0 || !om.at(rd->time_ns(), c.group_max_age_ns, &v, &factor)) continue;
          vals[n++] = v;
          var_sum += factor * om.sigma * om.sigma;
          u2_sum += static_cast<double>(om.expanded) * om.expanded;
        }
        Member& me = members_[m];
        me.add(x, rd->time_ns());
        me.sigma = static_cast<float>(sigma);
        me.expanded = static_cast<float>(expanded);
        me.alarm = worst_before == Level::kAlarm ? 1 : 0;
      }
      if (n >= c.group_min_others && n > 0) {
        // Reference: the median of the others (n >= 3). Of two others their mean while they
        // agree (|a - b| <= 3 sigma_(a-b)); when they disagree one of them is off, and the
        // one nearer to x is used (the mean would pass half of a faulty member's error on to
        // the healthy ones). A single other as it is. Variance: exact for the mean of two,
        // one member's for a single value, else the large-sample variance of a median,
        // pi/2 * mean variance / n.
        double med = vals[0];
        const double nd = static_cast<double>(n);
        double var_med = var_sum / nd;
        if (n == 2) {
          if (std::fabs(vals[0] - vals[1]) <= 3 * std::sqrt(var_sum)) {
            med = 0.5 * (vals[0] + vals[1]);
            var_med = var_sum / 4;
          } else {
            med = std::fabs(x - vals[0]) <= std::fabs(x - vals[1]) ? vals[0] : vals[1];
          }
        } else if (n >= 3) {
          med = median_small(vals, n);
          var_med = std::numbers::pi / 2 * var_sum / (nd * nd);
        }
        const double e = x - med;
        const double tol = c.group_tolerance_mpe ? mpe : std::sqrt(expanded * expanded + u2_sum);
        const size_t k = static_cast<size_t>(Detector::kRedundancy);
        d->red_run = std::fabs(e) > tol ? static_cast<uint8_t>(std::min(d->red_run + 1, 255)) : 0;
        after[k] = d->red_run >= c.group_persistence                          ? Level::kAlarm
                   : d->red_run + 1u >= c.group_persistence && d->red_run > 0 ? Level::kWarning
                                                                              : Level::kOk;
        stat[k] = e / tol;
        evaluated[k] = true;
        z = e / std::sqrt(sigma * sigma + var_med);
        have_z = true;
      }
    }
    if (have_z) {
      ++st.observations;
      if (c.use_cusum) {
        const size_t k = static_cast<size_t>(Detector::kCusum);
        stat[k] = d->cusum.update(z, c.cusum);
        after[k] = d->cusum.level(c.cusum);
        evaluated[k] = true;
      }
      if (c.use_ewma) {
        const size_t k = static_cast<size_t>(Detector::kEwma);
        stat[k] = d->ewma.update(z, c.ewma);
        after[k] = d->ewma.level(c.ewma);
        evaluated[k] = true;
      }
      if (c.use_page_hinkley) {
        const size_t k = static_cast<size_t>(Detector::kPageHinkley);
        stat[k] = d->ph.update(z, c.page_hinkley);
        after[k] = d->ph.level(c.page_hinkley);
        evaluated[k] = true;
      }
    }
    // Output: the highest level; the statistic of the highest evaluated detector.
    Level worst = Level::kOk;
    double worst_stat =
        d->cusum.hi >= d->cusum.lo ? d->cusum.hi : -static_cast<double>(d->cusum.lo);
    Level worst_eval = Level::kNotChecked;
    for (size_t k = 0; k < after.size(); ++k) {
      worst = std::max(worst, after[k]);
      if (evaluated[k] && after[k] > worst_eval) {
        worst_eval = after[k];
        worst_stat = stat[k];
      }
      if (after[k] == before[k]) continue;
      d->set_level(static_cast<Detector>(k), after[k]);
      engine::AlertEvent a;
      a.sensor_id = std::string(sid);
      a.kind = std::string(kKinds[k]);
      a.level = alert_level(after[k]);
      a.previous_level = alert_level(before[k]);
      a.statistic = stat[k];
      a.message = std::string(kKinds[k]) + " " +
                  (after[k] == Level::kAlarm     ? "alarm"
                   : after[k] == Level::kWarning ? "warning"
                                                 : "ok") +
                  " (was " +
                  (before[k] == Level::kAlarm     ? "alarm"
                   : before[k] == Level::kWarning ? "warning"
                                                  : "ok") +
                  ")";
      a.trigger_seq = rd->seq();
      a.trigger_time_ns = rd->time_ns();
      a.frame = b.row_frame[r];
      b.alerts.push_back(std::move(a));
    }
    b.row_drift[r] = static_cast<uint8_t>(worst);
    b.row_drift_stat[r] = worst_stat;
    if (c.reject_on_alarm && worst == Level::kAlarm)
      b.reject_row(r, RejectCode::kDriftAlarm, ctx.stage);
  }
}

namespace {

/// Writes a member's values oldest first: u8 count (0: none), then u8 alarm, f32 sigma,
/// f32 expanded and count x (f64 value, i64 time_ns).
void put_member(SnapshotWriter& w, const Drift::Member* m) {
  const uint8_t n = m != nullptr ? m->count : 0;
  w.put(n);
  if (n == 0) return;
  w.put(m->alarm);
  w.put(m->sigma);
  w.put(m->expanded);
  for (int k = n - 1; k >= 0; --k) {
    const int i = (m->head + Drift::kRing - k) % Drift::kRing;
    w.put(m->value[static_cast<size_t>(i)]);
    w.put(m->time_ns[static_cast<size_t>(i)]);
  }
}

bool get_member(SnapshotReader& rd, Drift::Member* m, bool* present) {
  uint8_t n = 0;
  *present = false;
  if (!rd.get(n) || n > Drift::kRing) return false;
  if (n == 0) return true;
  Drift::Member v;
  if (!rd.get(v.alarm) || v.alarm > 1 || !rd.get_finite(v.sigma) || !rd.get_finite(v.expanded))
    return false;
  for (int k = 0; k < n; ++k) {
    double x = 0;
    int64_t t = 0;
    if (!rd.get_finite(x) || !rd.get(t)) return false;
    if (k > 0 && t <= v.time_ns[v.head]) return false;  // increasing times
    v.head = static_cast<uint8_t>(k);
    v.value[static_cast<size_t>(k)] = x;
    v.time_ns[static_cast<size_t>(k)] = t;
  }
  v.count = n;
  *m = v;
  *present = true;
  return true;
}

/// Opens a drift snapshot of format version 2 or 1 (*v2 says which).
bool open_drift(SnapshotReader& rd, std::span<const uint8_t> bytes, uint16_t* param,
                uint64_t* count, bool* v2) {
  *v2 = true;
  if (rd.open(bytes, kMagic, kVersion, param, count)) return true;
  *v2 = false;
  return rd.open(bytes, kMagic, 1, param, count);
}

void put_drift_entry(SnapshotWriter& w, std::string_view id, const DriftSensor& d,
                     const Drift::Member* member) {
  w.put_string(id);
  w.put(d.cusum.hi);
  w.put(d.cusum.lo);
  w.put(d.ewma.z);
  w.put(d.ewma.n);
  w.put(d.ph.n);
  w.put(d.ph.mean);
  w.put(d.ph.up);
  w.put(d.ph.down);
  w.put(d.levels);
  w.put(d.red_run);
  put_member(w, member);
}

bool get_drift_entry(SnapshotReader& rd, bool v2, std::string_view* id, DriftSensor* out,
                     Drift::Member* member, bool* has_member) {
  DriftSensor d;
  *has_member = false;
  if (!rd.get_string(*id, 1u << 20) || id->empty()) return false;
  if (!rd.get_finite(d.cusum.hi) || !rd.get_finite(d.cusum.lo) || !rd.get_finite(d.ewma.z) ||
      !rd.get(d.ewma.n) || !rd.get(d.ph.n) || !rd.get_finite(d.ph.mean) ||
      !rd.get_finite(d.ph.up) || !rd.get_finite(d.ph.down) || !rd.get(d.levels) ||
      !rd.get(d.red_run))
    return false;
  if (d.cusum.hi < 0 || d.cusum.lo < 0 || d.ph.up < 0 || d.ph.down < 0) return false;
  if (d.levels >= (1u << (2 * static_cast<int>(Detector::kCount)))) return false;
  if (v2 && !get_member(rd, member, has_member)) return false;
  d.member = -2;  // group membership comes from the current configuration
  *out = d;
  return true;
}

}  // namespace

std::vector<uint8_t> DriftState::snapshot() const {
  SnapshotWriter w(kMagic, kVersion, 0, table.size());
  table.for_each([&](std::string_view id, const DriftSensor& d) {
    Drift::Member m;
    const bool has = owner_ != nullptr && d.member != -1 && owner_->member_values(id, &m);
    put_drift_entry(w, id, d, has ? &m : nullptr);
  });
  return w.finish();
}

bool DriftState::restore(std::span<const uint8_t> bytes) {
  SnapshotReader rd;
  uint16_t param = 0;
  uint64_t count = 0;
  bool v2 = false;
  if (!open_drift(rd, bytes, &param, &count, &v2)) return false;
  constexpr size_t kMinEntry = 4 + 1 + 4 * 8 + 2 + 1;
  if (param != 0 || count > rd.remaining() / kMinEntry) return false;
  SensorTable<DriftSensor> t;
  std::vector<std::pair<std::string, Drift::Member>> members;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view id;
    DriftSensor d;
    Drift::Member m;
    bool has = false;
    if (!get_drift_entry(rd, v2, &id, &d, &m, &has)) return false;
    bool inserted = false;
    DriftSensor* slot = t.find_or_insert(id, &inserted);
    if (slot == nullptr || !inserted) return false;
    *slot = d;
    if (has) members.emplace_back(std::string(id), m);
  }
  if (!rd.at_end()) return false;
  table.swap(t);
  if (owner_ != nullptr)
    for (const auto& [id, m] : members) owner_->set_member_values(id, m);
  return true;
}

void DriftState::changed_entries(const engine::Batch& batch, std::span<const uint32_t> rows,
                                 const engine::StateEntryFn& fn) const {
  for_each_distinct_sensor(batch, rows, [&](std::string_view id) {
    const DriftSensor* d = table.find(id);
    if (d == nullptr) return;
    Drift::Member m;
    const bool has = owner_ != nullptr && d->member >= 0 && owner_->member_values(id, &m);
    SnapshotWriter w(kMagic, kVersion, 0, 1);
    put_drift_entry(w, id, *d, has ? &m : nullptr);
    const std::vector<uint8_t> entry = w.finish();
    fn(id, entry);
  });
}

bool DriftState::merge_entry(std::span<const uint8_t> entry) {
  SnapshotReader rd;
  uint16_t param = 0;
  uint64_t count = 0;
  bool v2 = false;
  if (!open_drift(rd, entry, &param, &count, &v2) || param != 0 || count != 1) return false;
  std::string_view id;
  DriftSensor d;
  Drift::Member m;
  bool has = false;
  if (!get_drift_entry(rd, v2, &id, &d, &m, &has) || !rd.at_end()) return false;
  DriftSensor* slot = table.find_or_insert(id);
  if (slot == nullptr) return false;
  *slot = d;
  if (has && owner_ != nullptr) owner_->set_member_values(id, m);
  return true;
}

std::unique_ptr<engine::Operator> Drift::from_config(const engine::ConfigNode& c,
                                                     engine::BuildContext& ctx) {
  DriftConfig cfg;
  cfg.identity = registries::identity_store_for(c, ctx);
  if (auto g = c.maybe("groups")) {
    if (!g->is_map()) g->fail("groups must be a map: name -> [sensor ids]");
    for (const std::string& name : g->keys()) {
      std::vector<std::string> ids;
      for (const auto& item : g->get(name).items()) ids.push_back(item.as_string());
      cfg.groups.emplace_back(name, std::move(ids));
    }
  }
  const std::string sigma = c.get_string("sigma", "combined");
  if (sigma != "combined" && sigma != "reading") c.get("sigma").fail("must be combined or reading");
  cfg.sigma_combined = sigma == "combined";
  auto positive = [&](const engine::ConfigNode& n, const char* key, double def, bool zero_ok) {
    const double v = n.get_double(key, def);
    if (!std::isfinite(v) || v < 0 || (!zero_ok && v == 0))
      n.get(key).fail(zero_ok ? "must be >= 0" : "must be > 0");
    return v;
  };
  cfg.default_sigma = positive(c, "default_sigma", 0, true);
  cfg.mpe = positive(c, "mpe", 0, true);
  cfg.mpe_sigmas = positive(c, "mpe_sigmas", 5, false);
  cfg.coverage_factor = positive(c, "coverage_factor", 2, false);
  cfg.warning_fraction = positive(c, "warning_fraction", 0.8, false);
  if (cfg.warning_fraction > 1) c.get("warning_fraction").fail("must be in (0, 1]");
  if (auto n = c.maybe("cusum")) {
    cfg.cusum.k = positive(*n, "k", 0.5, true);
    cfg.cusum.h = positive(*n, "h", 5, false);
    cfg.cusum.warning = positive(*n, "warning", cfg.cusum.h / 2, false);
    cfg.use_cusum = n->get_bool("enabled", true);
    n->finish();
  }
  if (auto n = c.maybe("ewma")) {
    cfg.ewma.lambda = positive(*n, "lambda", 0.2, false);
    if (cfg.ewma.lambda > 1) n->get("lambda").fail("must be in (0, 1]");
    cfg.ewma.L = positive(*n, "L", 3, false);
    cfg.ewma.warning = positive(*n, "warning", 2, false);
    const std::string limits = n->get_string("limits", "exact");
    if (limits != "exact" && limits != "asymptotic")
      n->get("limits").fail("must be exact or asymptotic");
    cfg.ewma.exact = limits == "exact";
    cfg.use_ewma = n->get_bool("enabled", true);
    n->finish();
  }
  if (auto n = c.maybe("page_hinkley")) {
    cfg.page_hinkley.delta = positive(*n, "delta", 0.5, true);
    cfg.page_hinkley.lambda = positive(*n, "lambda", 5, false);
    cfg.page_hinkley.warning = positive(*n, "warning", cfg.page_hinkley.lambda / 2, false);
    cfg.use_page_hinkley = n->get_bool("enabled", true);
    n->finish();
  }
  if (auto n = c.maybe("redundancy")) {
    cfg.group_max_age_ns = n->get_int("max_age_ms", 10'000, 1, 86'400'000) * 1'000'000;
    cfg.group_min_others = static_cast<uint32_t>(n->get_int("min_others", 2, 1, 15));
    cfg.group_persistence = static_cast<uint32_t>(n->get_int("persistence", 3, 1, 255));
    const std::string tol = n->get_string("tolerance", "uncertainty");
    if (tol != "uncertainty" && tol != "mpe")
      n->get("tolerance").fail("must be uncertainty or mpe");
    cfg.group_tolerance_mpe = tol == "mpe";
    n->finish();
  }
  std::vector<std::string> skip = {
      "replay",           "spike",       "stuck", "outside_physical_range", "clock_skew",
      "future_timestamp", "rate_limited"};
  if (auto sk = c.maybe("skip_flags")) {
    skip.clear();
    for (const auto& item : sk->items()) {
      skip.push_back(item.as_string());
      bool known = false;
      for (const auto& [name, f] : kFlagNames) known = known || name == skip.back();
      if (!known) item.fail("unknown anomaly flag '" + skip.back() + "'");
    }
  }
  cfg.skip_mask = 0;
  for (const auto& s : skip)
    for (const auto& [name, f] : kFlagNames)
      if (name == s) cfg.skip_mask |= static_cast<uint32_t>(f);
  cfg.reject_on_alarm = c.get_bool("reject_on_alarm", false);
  return std::make_unique<Drift>(std::move(cfg));
}

}  // namespace assay::operators
