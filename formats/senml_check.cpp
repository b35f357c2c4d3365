#include "formats/senml_check.hpp"

#include <algorithm>

namespace assay::formats {
namespace {

constexpr char kMagic[4] = {'A', 'S', 'N', 'R'};
constexpr uint16_t kVersion = 1;
constexpr size_t kMinEntryBytes = 12;  // u32 name length + i64 time

void put_entry(SnapshotWriter& w, std::string_view name, int64_t t) {
  w.put_string(name);
  w.put(t);
}

bool get_entry(SnapshotReader& rd, std::string_view* name, int64_t* t) {
  // A name as long as the bytes present: restore takes back every name check() can have
  // stored (SenmlParseOptions::max_name_bytes is the parser's, and configurable).
  return rd.get_string(*name, rd.remaining()) && rd.get(*t);
}

}  // namespace

std::string_view senml_check_name(SenmlCheck c) {
  switch (c) {
    case SenmlCheck::kOk:
      return "ok";
    case SenmlCheck::kReplay:
      return "senml.replay";
    case SenmlCheck::kStateFull:
      return "senml.state_full";
  }
  return "senml.unknown";
}

const int64_t* SenmlReplayState::last_time(std::string_view name) const {
  const auto it = last_.find(name);
  return it == last_.end() ? nullptr : &it->second;
}

SenmlCheckResult SenmlReplayChecker::check(SenmlReplayState& state, const SenmlPack& pack) const {
  // Pass 1: decide without touching the state. Records grouped by sensor (stable: input order
  // within a sensor); each group must be strictly increasing and start above the state's time.
  const auto& recs = pack.records;
  std::vector<uint32_t> order(recs.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return recs[a].name < recs[b].name; });
  size_t new_sensors = 0;
  uint32_t first_bad = UINT32_MAX;
  for (size_t k = 0; k < order.size(); ++k) {
    const SenmlRecord& r = recs[order[k]];
    const bool group_start = k == 0 || recs[order[k - 1]].name != r.name;
    bool bad = false;
    if (group_start) {
      if (const int64_t* t = state.last_time(r.name))
        bad = r.time_ns <= *t;
      else
        ++new_sensors;
    } else {
      bad = r.time_ns <= recs[order[k - 1]].time_ns;
    }
    if (bad) first_bad = std::min(first_bad, order[k]);
  }
  if (first_bad != UINT32_MAX) return {SenmlCheck::kReplay, first_bad};
  if (state.last_.size() + new_sensors > config_.max_sensors) return {SenmlCheck::kStateFull, 0};
  // Pass 2: commit.
  for (const SenmlRecord& r : recs) {
    auto it = state.last_.find(r.name);
    if (it == state.last_.end())
      it = state.last_.emplace(std::string(r.name), r.time_ns).first;
    else
      it->second = r.time_ns;
    state.changed_.add(it->first, state.last_.size());
  }
  return {};
}

std::vector<uint8_t> SenmlReplayState::snapshot() const {
  std::vector<const std::pair<const std::string, int64_t>*> sorted;
  sorted.reserve(last_.size());
  for (const auto& kv : last_) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  SnapshotWriter w(kMagic, kVersion, 0, sorted.size());
  for (const auto* kv : sorted) put_entry(w, kv->first, kv->second);
  return w.finish();
}

bool SenmlReplayState::restore(std::span<const uint8_t> bytes) {
  SnapshotReader rd;
  uint16_t param = 0;
  uint64_t count = 0;
  if (!rd.open(bytes, kMagic, kVersion, &param, &count)) return false;
  if (count > rd.remaining() / kMinEntryBytes) return false;
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> last;
  last.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view name;
    int64_t t = 0;
    if (!get_entry(rd, &name, &t)) return false;
    if (!last.emplace(std::string(name), t).second) return false;
  }
  if (!rd.at_end()) return false;
  changed_.clear();  // before the keys it points to go
  last_ = std::move(last);
  return true;
}

void SenmlReplayState::for_each_changed(const EntryFn& fn) const {
  for (const std::string* name : changed_.sorted()) {
    const auto it = last_.find(*name);
    if (it == last_.end()) continue;  // cannot happen: keys are only erased with changed_
    SnapshotWriter w(kMagic, kVersion, 0, 1);
    put_entry(w, it->first, it->second);
    const std::vector<uint8_t> entry = w.finish();
    fn(it->first, entry);
  }
}

bool SenmlReplayState::merge(std::span<const uint8_t> entry, size_t max_sensors) {
  SnapshotReader rd;
  uint16_t param = 0;
  uint64_t count = 0;
  std::string_view name;
  int64_t t = 0;
  if (!rd.open(entry, kMagic, kVersion, &param, &count) || param != 0 || count != 1 ||
      !get_entry(rd, &name, &t) || !rd.at_end())
    return false;
  const auto it = last_.find(name);
  if (it != last_.end()) {
    it->second = t;
    return true;
  }
  if (last_.size() >= max_sensors) return false;
  last_.emplace(std::string(name), t);
  return true;
}

}  // namespace assay::formats
