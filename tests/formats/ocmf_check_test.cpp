// OCMF plausibility checks: pagination, transaction pairing, monotonic readings and time, time
// status, error flags, meter status; per-meter state with snapshot/restore; a real series.
#include "formats/ocmf_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::bytes;

struct R {
  std::string tm;  // time, e.g. "10:00:00"
  std::string tx;  // "" = no TX
  double rv = 0;
  std::string ri = "1-b:1.8.0";
  std::string extra;     // raw JSON members appended to the reading
  std::string st = "G";  // meter status
};

// A record of meter `serial` with pagination `pg` and the given readings.
std::string make(const std::string& pg, const std::vector<R>& rd, const std::string& serial = "M1",
                 char time_status = 'S') {
  std::string p = R"({"FV":"1.0","GS":")" + serial + R"(","PG":")" + pg + R"(","RD":[)";
  for (size_t i = 0; i < rd.size(); ++i) {
    if (i) p += ",";
    p += R"({"TM":"2024-05-01T)" + rd[i].tm + ",000+0000 " + time_status + "\"";
    if (!rd[i].tx.empty()) p += R"(,"TX":")" + rd[i].tx + "\"";
    p += R"(,"RV":)" + std::to_string(rd[i].rv) + R"(,"RI":")" + rd[i].ri +
         R"(","RU":"kWh","ST":")" + rd[i].st + "\"" + rd[i].extra + "}";
  }
  p += "]}";
  return "OCMF|" + p + R"(|{"SD":"3006020101020101"})";
}

class Checker {
 public:
  explicit Checker(OcmfCheckConfig c = {}) : checker_(c) {}
  OcmfCheckResult operator()(const std::string& rec) {
    OcmfRecord r;
    const OcmfError e = parse_ocmf(bytes(rec), {}, r);
    EXPECT_EQ(e, OcmfError::kNone) << ocmf_error_name(e) << " " << rec;
    std::string buf;
    return checker_.check(state, r, ocmf_signer_id(r, buf));
  }
  OcmfCheckState state;
  OcmfChecker checker_;
};

std::string name(const OcmfCheckResult& r) {
  return std::string(ocmf_check_name(r.first));
}

TEST(OcmfCheck, SeparateRecordsTransaction) {
  Checker c;
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "B", 100}}))), "ok");
  EXPECT_TRUE(c.state.find("M1")->open);
  EXPECT_EQ(name(c(make("T2", {{"10:05:00", "C", 101}}))), "ok");
  EXPECT_EQ(name(c(make("T3", {{"10:06:00", "S", 101}}))), "ok");
  EXPECT_EQ(name(c(make("T4", {{"10:07:00", "T", 102}}))), "ok");
  EXPECT_EQ(name(c(make("T5", {{"10:10:00", "E", 105}}))), "ok");
  EXPECT_FALSE(c.state.find("M1")->open);
  // Every end code closes; a new transaction may begin lower (another register reset).
  for (const char* end : {"L", "R", "A", "P"}) {
    const uint64_t pg = c.state.find("M1")->last_pg[0];
    EXPECT_EQ(name(c(make("T" + std::to_string(pg + 1), {{"11:00:00", "B", 10}}))), "ok");
    EXPECT_EQ(name(c(make("T" + std::to_string(pg + 2), {{"11:01:00", end, 11}}))), "ok");
    EXPECT_FALSE(c.state.find("M1")->open) << end;
  }
}

TEST(OcmfCheck, MultipleReadingRecordsAndSharedEvents) {
  Checker c;
  // The specification's example: B/E pairs of three registers in one record.
  EXPECT_EQ(name(c(make("T1", {{"13:22:04", "B", 2935.6, "01.08"},
                               {"13:26:04", "E", 2965.1, "01.08"},
                               {"13:22:04", "B", 2905.6, "B1.08"},
                               {"13:26:04", "E", 2934.6, "B1.08"},
                               {"13:22:04", "B", 0, "B3.08"},
                               {"13:26:04", "E", 29, "B3.08"}}))),
            "ok");
  // LEM style: two registers per event.
  EXPECT_EQ(name(c(make("T2", {{"13:30:00", "B", 57.584, "1.8.0"},
                               {"13:30:00", "B", 4.405, "2.8.0"},
                               {"13:32:00", "E", 58.685, "1.8.0"},
                               {"13:32:00", "E", 4.405, "2.8.0"}}))),
            "ok");
  EXPECT_FALSE(c.state.find("M1")->open);
}

TEST(OcmfCheck, PairingFailures) {
  Checker c;
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "E", 1}}))), "ocmf.transaction_end_without_begin");
  EXPECT_EQ(name(c(make("T2", {{"10:01:00", "C", 1}}))), "ocmf.transaction_not_open");
  EXPECT_EQ(name(c(make("T3", {{"10:01:00", "X", 1}}))), "ocmf.transaction_not_open");
  EXPECT_EQ(name(c(make("T4", {{"10:02:00", "B", 1}}))), "ok");
  const auto r = c(make("T5", {{"10:03:00", "B", 2}}));
  EXPECT_EQ(name(r), "ocmf.transaction_unterminated");
  EXPECT_EQ(r.reading, 0u);
  EXPECT_TRUE(c.state.find("M1")->open);  // the new transaction is open
  // Fiscal readings (no TX) are not part of the pairing.
  EXPECT_EQ(name(c(make("F1", {{"10:04:00", "", 3}}))), "ok");
}

TEST(OcmfCheck, ExceptionTaintsTheRestOfTheTransaction) {
  Checker c;
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "B", 1}}))), "ok");
  const auto x = c(make("T2", {{"10:01:00", "X", 2}}));
  EXPECT_EQ(name(x), "ocmf.transaction_exception");
  EXPECT_EQ(name(c(make("T3", {{"10:02:00", "C", 3}}))), "ocmf.transaction_exception");
  EXPECT_EQ(name(c(make("T4", {{"10:03:00", "E", 4}}))), "ocmf.transaction_exception");
  EXPECT_EQ(name(c(make("T5", {{"10:04:00", "B", 5}}))), "ok");  // a new transaction is clean
}

TEST(OcmfCheck, MonotonicReadingsAndTime) {
  Checker c;
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "B", 100}}))), "ok");
  const auto dec = c(make("T2", {{"10:01:00", "C", 99.5}}));
  EXPECT_EQ(name(dec), "ocmf.reading_decreased");
  EXPECT_EQ(dec.reading, 0u);
  // The register keeps its maximum: 99.9 is still below 100.
  EXPECT_EQ(name(c(make("T3", {{"10:02:00", "C", 99.9}}))), "ocmf.reading_decreased");
  EXPECT_EQ(name(c(make("T4", {{"10:03:00", "C", 100}}))), "ok");
  EXPECT_EQ(name(c(make("T5", {{"09:59:00", "C", 101}}))), "ocmf.time_decreased");
  // Within one record too; the second reading is the culprit.
  const auto r = c(make("T6", {{"10:05:00", "C", 103}, {"10:06:00", "C", 102}}));
  EXPECT_EQ(name(r), "ocmf.reading_decreased");
  EXPECT_EQ(r.reading, 1u);
  // Other registers are independent.
  EXPECT_EQ(name(c(make("T7", {{"10:07:00", "C", 1, "2.8.0"}}))), "ok");
  // Outside a transaction values may go anywhere (registers reset at B).
  EXPECT_EQ(name(c(make("T8", {{"10:08:00", "E", 104}}))), "ok");
  EXPECT_EQ(name(c(make("T9", {{"10:09:00", "B", 0}}))), "ok");
}

TEST(OcmfCheck, PaginationPerContext) {
  Checker c;
  EXPECT_EQ(name(c(make("T10", {{"10:00:00", "", 1}}))), "ok");  // first: any number
  EXPECT_EQ(name(c(make("F3", {{"10:00:01", "", 1}}))), "ok");   // F counts separately
  EXPECT_EQ(name(c(make("T11", {{"10:00:02", "", 1}}))), "ok");
  EXPECT_EQ(name(c(make("T13", {{"10:00:03", "", 1}}))), "ocmf.pagination_gap");
  EXPECT_EQ(name(c(make("F4", {{"10:00:04", "", 1}}))), "ok");
  // A replay leaves the state exactly as it was.
  const auto before = c.state.snapshot();
  EXPECT_EQ(name(c(make("T12", {{"10:00:05", "B", 1}}))), "ocmf.pagination_replay");
  EXPECT_EQ(name(c(make("T13", {{"10:00:05", "B", 1}}))), "ocmf.pagination_replay");
  EXPECT_EQ(c.state.snapshot(), before);
  EXPECT_EQ(name(c(make("T14", {{"10:00:06", "", 1}}))), "ok");
  // Meters are independent.
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "", 1}}, "M2"))), "ok");
  EXPECT_EQ(c.state.meter_count(), 2u);
}

TEST(OcmfCheck, StatusFlags) {
  Checker c;
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "", 1}}, "M1", 'U'))), "ocmf.time_unsynchronized");
  EXPECT_EQ(name(c(make("T2", {{"10:00:00", "", 1}}, "M1", 'I'))), "ok");
  EXPECT_EQ(name(c(make("T3", {{"10:00:00", "", 1}}, "M1", 'R'))), "ok");
  EXPECT_EQ(name(c(make("T4", {{"10:00:00", "", 1, "1.8.0", R"(,"EF":"E")"}}))),
            "ocmf.error_flags");
  EXPECT_EQ(name(c(make("T5", {{"10:00:00", "", 1, "1.8.0", "", "E"}}))), "ocmf.meter_status");
}

TEST(OcmfCheck, ConfigSwitchesChecks) {
  OcmfCheckConfig cfg;
  cfg.reject_informative = true;
  cfg.reject_unsynchronized = false;
  Checker c(cfg);
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "", 1}}, "M1", 'U'))), "ok");
  EXPECT_EQ(name(c(make("T2", {{"10:00:00", "", 1}}, "M1", 'I'))), "ocmf.time_informative");
  OcmfCheckConfig off;
  off.pagination = off.transactions = off.monotonic = off.error_flags = off.meter_status = false;
  Checker d(off);
  EXPECT_EQ(name(d(make("T5", {{"10:00:00", "E", 5}}))), "ok");
  EXPECT_EQ(name(d(make("T1", {{"10:00:00", "B", 5}}))), "ok");
  EXPECT_EQ(name(d(make("T9", {{"09:00:00", "C", 1, "1.8.0", R"(,"EF":"Et")"}}))), "ok");
}

TEST(OcmfCheck, MaskCollectsEveryFinding) {
  Checker c;
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "B", 10}}))), "ok");
  const auto r = c(make("T3", {{"09:00:00", "C", 5, "1-b:1.8.0", R"(,"EF":"t")"}}, "M1", 'S'));
  EXPECT_EQ(name(r), "ocmf.pagination_gap");
  const uint32_t want =
      1u << unsigned(OcmfCheck::kPaginationGap) | 1u << unsigned(OcmfCheck::kErrorFlags) |
      1u << unsigned(OcmfCheck::kTimeDecreased) | 1u << unsigned(OcmfCheck::kReadingDecreased);
  EXPECT_EQ(r.mask, want);
}

TEST(OcmfCheck, Limits) {
  OcmfCheckConfig cfg;
  cfg.max_meters = 1;
  cfg.max_registers = 2;
  Checker c(cfg);
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "B", 1, "a"}, {"10:00:00", "B", 1, "b"}}))), "ok");
  EXPECT_EQ(name(c(make("T2", {{"10:01:00", "C", 1, "c"}}))), "ocmf.too_many_registers");
  EXPECT_EQ(name(c(make("T1", {{"10:00:00", "", 1}}, "M2"))), "ocmf.state_full");
  EXPECT_EQ(c.state.meter_count(), 1u);
}

TEST(OcmfCheck, SnapshotRestoreContinuesIdentically) {
  Checker a;
  a(make("T1", {{"10:00:00", "B", 1}}));
  a(make("T2", {{"10:01:00", "X", 2}}));
  a(make("F7", {{"10:01:00", "", 2}}, "M2"));
  const std::vector<uint8_t> snap = a.state.snapshot();
  Checker b;
  ASSERT_TRUE(b.state.restore(snap));
  EXPECT_EQ(b.state.snapshot(), snap);
  for (const std::string& rec :
       {make("T3", {{"10:02:00", "C", 1.5}}), make("T4", {{"10:03:00", "E", 3}}),
        make("F9", {{"10:04:00", "", 2}}, "M2")}) {
    const auto ra = a(rec);
    const auto rb = b(rec);
    EXPECT_EQ(ra.first, rb.first);
    EXPECT_EQ(ra.mask, rb.mask);
  }
  EXPECT_EQ(a.state.snapshot(), b.state.snapshot());
}

TEST(OcmfCheck, CorruptSnapshotsAreRefused) {
  Checker a;
  a(make("T1", {{"10:00:00", "B", 1}}));
  const std::vector<uint8_t> snap = a.state.snapshot();
  Checker b;
  b(make("T5", {{"10:00:00", "", 1}}, "OTHER"));
  const auto before = b.state.snapshot();
  for (size_t i = 0; i < snap.size(); ++i) {
    auto bad = snap;
    bad[i] ^= 0x40;
    EXPECT_FALSE(b.state.restore(bad)) << i;
  }
  for (size_t n = 0; n < snap.size(); ++n)
    EXPECT_FALSE(b.state.restore(std::span(snap).first(n))) << n;
  EXPECT_EQ(b.state.snapshot(), before);  // unchanged by failed restores
  OcmfCheckState empty;
  EXPECT_TRUE(b.state.restore(empty.snapshot()));
  EXPECT_EQ(b.state.meter_count(), 0u);
}

// Durable entries: the signers check() changed, one per entry, merged back in order.
struct Entry {
  std::string key;
  std::vector<uint8_t> bytes;
};

std::vector<Entry> take_changed(OcmfCheckState& s) {
  std::vector<Entry> out;
  s.for_each_changed([&](std::string_view k, std::span<const uint8_t> e) {
    out.push_back({std::string(k), {e.begin(), e.end()}});
  });
  s.clear_changed();
  return out;
}

std::vector<std::string> keys(const std::vector<Entry>& es) {
  std::vector<std::string> k;
  for (const auto& e : es) k.push_back(e.key);
  return k;
}

TEST(OcmfCheck, ChangedEntriesRebuildTheState) {
  Checker a;
  std::vector<Entry> log;
  const auto batch = [&](const std::vector<std::string>& recs) {
    for (const auto& r : recs) a(r);
    auto es = take_changed(a.state);
    log.insert(log.end(), es.begin(), es.end());
    return keys(es);
  };
  // Sorted by signer, each once: an open transaction with registers, a tainted one, F counter.
  EXPECT_EQ(
      batch({make("T1", {{"10:00:00", "B", 1}, {"10:00:00", "B", 7, "2.8.0"}}, "Z9"),
             make("T1", {{"10:00:00", "B", 1}}, "M1"), make("T2", {{"10:01:00", "X", 2}}, "M1"),
             make("F7", {{"10:01:00", "", 2}}, "A2")}),
      (std::vector<std::string>{"A2", "M1", "Z9"}));
  // A replay changes nothing; a gap or another finding still moves the record.
  EXPECT_EQ(batch({make("T1", {{"10:02:00", "C", 1}}, "Z9")}), std::vector<std::string>{});
  EXPECT_EQ(
      batch({make("T4", {{"10:03:00", "C", 0.5}}, "Z9"), make("F8", {{"10:04:00", "", 3}}, "A2")}),
      (std::vector<std::string>{"A2", "Z9"}));
  EXPECT_EQ(log.size(), 5u);
  // Each entry is an ordinary snapshot of its signer alone.
  OcmfCheckState one;
  ASSERT_TRUE(one.restore(log.back().bytes));
  EXPECT_EQ(one.meter_count(), 1u);
  ASSERT_NE(one.find("Z9"), nullptr);
  EXPECT_EQ(one.find("Z9")->last_pg[0], 4u);
  EXPECT_EQ(one.find("Z9")->registers.size(), 2u);
  // Merged in order into a fresh state: the same state.
  Checker b;
  for (const auto& e : log) ASSERT_TRUE(b.state.merge(e.bytes, SIZE_MAX)) << e.key;
  EXPECT_EQ(b.state.snapshot(), a.state.snapshot());
  EXPECT_TRUE(take_changed(b.state).empty());
  // Replays stay replays; everything else continues as in the original.
  EXPECT_EQ(name(b(make("T4", {{"10:05:00", "C", 2}}, "Z9"))), "ocmf.pagination_replay");
  EXPECT_EQ(name(b(make("F7", {{"10:05:00", "", 3}}, "A2"))), "ocmf.pagination_replay");
  for (const std::string& rec :
       {make("T3", {{"10:06:00", "C", 3}}, "M1"), make("T5", {{"10:06:00", "C", 0.1}}, "Z9"),
        make("T6", {{"10:07:00", "E", 9}}, "Z9"), make("F9", {{"10:08:00", "", 4}}, "A2")}) {
    const auto ra = a(rec);
    const auto rb = b(rec);
    EXPECT_EQ(ra.first, rb.first) << rec;
    EXPECT_EQ(ra.mask, rb.mask) << rec;
  }
  EXPECT_EQ(a.state.snapshot(), b.state.snapshot());
  // A state full refuses the record without touching the state: nothing changed.
  OcmfCheckConfig one_meter;
  one_meter.max_meters = 1;
  Checker full(one_meter);
  full(make("T1", {{"10:00:00", "", 1}}, "M1"));
  take_changed(full.state);
  EXPECT_EQ(name(full(make("T1", {{"10:00:00", "", 1}}, "M2"))), "ocmf.state_full");
  EXPECT_TRUE(take_changed(full.state).empty());
}

TEST(OcmfCheck, MalformedEntriesAreRefusedAndChangeNothing) {
  Checker a;
  a(make("T1", {{"10:00:00", "B", 1}, {"10:00:00", "B", 2, "2.8.0"}}));
  a(make("T1", {{"10:00:00", "", 1}}, "M2"));
  const auto es = take_changed(a.state);
  ASSERT_EQ(es.size(), 2u);
  const std::vector<uint8_t> entry = es[0].bytes;  // M1, with two registers
  Checker b;
  b(make("T5", {{"10:00:00", "", 1}}, "OTHER"));
  const auto before = b.state.snapshot();
  for (size_t i = 0; i < entry.size(); ++i) {
    auto bad = entry;
    bad[i] ^= 0x40;
    EXPECT_FALSE(b.state.merge(bad, SIZE_MAX)) << i;
  }
  for (size_t n = 0; n < entry.size(); ++n)
    EXPECT_FALSE(b.state.merge(std::span(entry).first(n), SIZE_MAX)) << n;
  auto longer = entry;
  longer.push_back(0);
  EXPECT_FALSE(b.state.merge(longer, SIZE_MAX));
  EXPECT_FALSE(b.state.merge(a.state.snapshot(), SIZE_MAX));           // two signers
  EXPECT_FALSE(b.state.merge(OcmfCheckState().snapshot(), SIZE_MAX));  // none
  // The SenML state's magic, checksum recomputed: foreign.
  auto foreign = entry;
  std::memcpy(foreign.data(), "ASNR", 4);
  const uint64_t h = snapshot_fnv1a64(std::span(foreign).first(foreign.size() - 8));
  std::memcpy(foreign.data() + foreign.size() - 8, &h, 8);
  EXPECT_FALSE(b.state.merge(foreign, SIZE_MAX));
  // Unknown flag bits and a non-finite register value, checksum recomputed: refused.
  const auto reseal = [](std::vector<uint8_t> e) {
    const uint64_t x = snapshot_fnv1a64(std::span(e).first(e.size() - 8));
    std::memcpy(e.data() + e.size() - 8, &x, 8);
    return e;
  };
  const size_t flags_at = 16 + 4 + 2;  // header, u32 length, "M1"
  auto flags = entry;
  flags[flags_at] |= 0x20;
  EXPECT_FALSE(b.state.merge(reseal(flags), SIZE_MAX));
  auto nan = entry;
  const double q = std::nan("");
  std::memcpy(nan.data() + nan.size() - 8 - 8, &q, 8);  // the last register's value
  EXPECT_FALSE(b.state.merge(reseal(nan), SIZE_MAX));
  EXPECT_TRUE(a.state.restore(reseal(entry)));  // resealing alone keeps it valid
  EXPECT_FALSE(b.state.merge({}, SIZE_MAX));
  EXPECT_EQ(b.state.snapshot(), before);
  EXPECT_TRUE(b.state.merge(entry, SIZE_MAX));
  EXPECT_EQ(b.state.meter_count(), 2u);
}

TEST(OcmfCheck, MergeRespectsTheMeterLimit) {
  Checker a;
  for (const char* m : {"M1", "M2", "M3"}) a(make("T1", {{"10:00:00", "", 1}}, m));
  a(make("T2", {{"10:01:00", "", 1}}, "M1"));
  const auto es = take_changed(a.state);
  ASSERT_EQ(keys(es), (std::vector<std::string>{"M1", "M2", "M3"}));
  OcmfCheckState s;
  EXPECT_TRUE(s.merge(es[0].bytes, 2));
  EXPECT_TRUE(s.merge(es[1].bytes, 2));
  const auto before = s.snapshot();
  EXPECT_FALSE(s.merge(es[2].bytes, 2));  // a third meter
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_TRUE(s.merge(es[0].bytes, 2));  // a known one is replaced
  EXPECT_EQ(s.meter_count(), 2u);
  EXPECT_EQ(s.find("M1")->last_pg[0], 2u);
}

TEST(OcmfCheck, RealKebaSeries) {
  const auto j = nlohmann::json::parse(
      test::read_text(std::string(ASSAY_SOURCE_DIR) + "/tests/data/ocmf/keba_kcp30_series.json"));
  const auto& records = j.at("records");
  ASSERT_EQ(records.size(), 100u);
  OcmfCheckConfig relaxed;
  relaxed.reject_unsynchronized = false;  // this charger starts with an unsynchronised clock
  OcmfChecker strict_checker, relaxed_checker(relaxed);
  OcmfCheckState strict_state, relaxed_state;
  size_t unsynchronized = 0;
  for (const auto& rec : records) {
    const std::string s = rec.get<std::string>();
    OcmfRecord r;
    ASSERT_EQ(parse_ocmf(bytes(s), {}, r), OcmfError::kNone);
    std::string buf;
    const std::string signer(ocmf_signer_id(r, buf));
    EXPECT_EQ(signer, "16913115");
    const auto relaxed_result = relaxed_checker.check(relaxed_state, r, signer);
    EXPECT_TRUE(relaxed_result.ok()) << ocmf_check_name(relaxed_result.first) << " " << s;
    const auto strict_result = strict_checker.check(strict_state, r, signer);
    unsynchronized += strict_result.first == OcmfCheck::kTimeUnsynchronized;
  }
  EXPECT_EQ(unsynchronized, 100u);  // every begin reading has status U
  // Replaying the series is caught record by record; a gap too.
  for (const auto& rec : records) {
    OcmfRecord r;
    ASSERT_EQ(parse_ocmf(bytes(rec.get<std::string>()), {}, r), OcmfError::kNone);
    EXPECT_EQ(relaxed_checker.check(relaxed_state, r, "16913115").first,
              OcmfCheck::kPaginationReplay);
  }
  OcmfCheckState fresh;
  size_t gaps = 0;
  for (size_t i = 0; i < records.size(); i += (i == 40 ? 2 : 1)) {
    OcmfRecord r;
    ASSERT_EQ(parse_ocmf(bytes(records[i].get<std::string>()), {}, r), OcmfError::kNone);
    gaps += relaxed_checker.check(fresh, r, "16913115").first == OcmfCheck::kPaginationGap;
  }
  EXPECT_EQ(gaps, 1u);
}

TEST(OcmfCheck, NamesAreStableAndDistinct) {
  std::set<std::string_view> names;
  for (int i = 0; i < static_cast<int>(OcmfCheck::kCount_); ++i)
    names.insert(ocmf_check_name(static_cast<OcmfCheck>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(OcmfCheck::kCount_));
  EXPECT_EQ(ocmf_check_name(OcmfCheck::kPaginationGap), "ocmf.pagination_gap");
}

}  // namespace
}  // namespace assay::formats
