// Issue 13, item 13: dates outside 1677..2262 (the range of int64 UTC nanoseconds) in the
// identity registry, the lab trust list and calibration certificates. A validity bound beyond
// the range means "unbounded on that side"; a bound that would make a window empty, an instant
// (issue date) outside the range, a leap second and odd formats are refused with a located
// reason.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "../operators/calibration_util.hpp"
#include "engine/config.hpp"
#include "engine/time.hpp"
#include "registries/calibration_certificate.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_registry.hpp"

namespace assay::registries {
namespace {

namespace fs = std::filesystem;

// A valid Ed25519 public key: the encoding of the base point.
constexpr const char* kPub = "5866666666666666666666666666666666666666666666666666666666666666";

struct Dir {
  fs::path path = testing::temp_dir("timebounds");
  ~Dir() { fs::remove_all(path); }
};

// A registry of one sensor with one key whose window is [from, until] ("" = key omitted).
struct Loaded {
  std::shared_ptr<const IdentityRegistry> reg;
  RegistryLoadReport report;
};

Loaded load_key(const Dir& d, const std::string& from, const std::string& until) {
  std::string y =
      "sensors:\n  - sensor_id: s1\n    keys:\n      - key_id: k1\n        alg: Ed25519\n"
      "        public_key: \"" +
      std::string(kPub) + "\"\n";
  if (!from.empty()) y += "        valid_from: \"" + from + "\"\n";
  if (!until.empty()) y += "        valid_until: \"" + until + "\"\n";
  testing::write_text(d.path / "sensors.yaml", y);
  Loaded l;
  l.reg = load_identity_registry((d.path / "sensors.yaml").string(), l.report);
  return l;
}

std::string refusal(const Loaded& l) {
  return l.report.refused.empty() ? "" : l.report.refused[0];
}

TEST(TimeBounds, KeyValidUntil9999IsUnboundedAndValidNow) {
  Dir d;
  const Loaded l = load_key(d, "2020-01-01T00:00:00Z", "9999-12-31");
  ASSERT_TRUE(l.report.refused.empty()) << refusal(l);
  const SensorKey* k = l.reg->find_key("k1");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->valid_until_ns, INT64_MAX);
  const int64_t now = engine::now_ns();
  EXPECT_TRUE(now >= k->valid_from_ns && now <= k->valid_until_ns);
}

TEST(TimeBounds, KeyValidUntil2600DoesNotExpireIn2015) {
  Dir d;
  const Loaded l = load_key(d, "", "2600-01-01T00:00:00Z");
  ASSERT_TRUE(l.report.refused.empty()) << refusal(l);
  const SensorKey* k = l.reg->find_key("k1");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->valid_until_ns, INT64_MAX);
  EXPECT_GT(k->valid_until_ns, engine::now_ns());
}

TEST(TimeBounds, KeyValidFromYearOneIsUnbounded) {
  Dir d;
  const Loaded l = load_key(d, "0001-01-01", "2262-04-11");
  ASSERT_TRUE(l.report.refused.empty()) << refusal(l);
  const SensorKey* k = l.reg->find_key("k1");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->valid_from_ns, INT64_MIN);
  // 2262-04-11 (midnight UTC) is inside the range: kept exactly.
  EXPECT_EQ(k->valid_until_ns, 9'223'286'400'000'000'000);
}

TEST(TimeBounds, EmptyWindowsAreRefusedWithTheReason) {
  Dir d;
  {
    // Ends before anything can be represented: the key could never verify a reading.
    const Loaded l = load_key(d, "", "1600-01-01");
    ASSERT_EQ(l.report.refused.size(), 1u);
    EXPECT_NE(refusal(l).find("sensors.yaml:"), std::string::npos) << refusal(l);
    EXPECT_NE(refusal(l).find("valid_until"), std::string::npos) << refusal(l);
    EXPECT_NE(refusal(l).find("1677-09-21"), std::string::npos) << refusal(l);
    EXPECT_EQ(l.reg->find_key("k1"), nullptr);
  }
  {
    const Loaded l = load_key(d, "9999-12-31", "");
    ASSERT_EQ(l.report.refused.size(), 1u);
    EXPECT_NE(refusal(l).find("valid_from"), std::string::npos) << refusal(l);
    EXPECT_NE(refusal(l).find("2262-04-11"), std::string::npos) << refusal(l);
  }
  {
    // Both beyond the same end: still the located window error, not an overflow.
    const Loaded l = load_key(d, "2020-01-01", "2019-01-01");
    ASSERT_EQ(l.report.refused.size(), 1u);
    EXPECT_NE(refusal(l).find("valid_until is before valid_from"), std::string::npos) << refusal(l);
  }
}

TEST(TimeBounds, LeapSecondsAndOddFormatsAreRefusedWithTheReason) {
  Dir d;
  const std::pair<const char*, const char*> cases[] = {
      {"2016-12-31T23:59:60Z", "leap second"},
      {"2026-02-30", "2026-02 has 28 days"},
      {"2024-02-30", "2024-02 has 29 days"},
      {"2026-13-01", "month"},
      {"2026-01-01T24:00:00Z", "hour"},
      {"2026-01-01T00:00:00", "UTC offset"},
      {"2026-01-01T00:00:00+24:00", "offset"},
      {"2026-01-01T00:00:00.1234567891Z", "nanosecond"},
      {"26-01-01", "RFC 3339"},
      {"2026-01-01T00:00Z", "RFC 3339"},
      {"2026-01-01 junk", "RFC 3339"},
  };
  for (const auto& [text, reason] : cases) {
    const Loaded l = load_key(d, "", text);
    ASSERT_EQ(l.report.refused.size(), 1u) << text;
    EXPECT_NE(refusal(l).find("valid_until"), std::string::npos) << text << ": " << refusal(l);
    EXPECT_NE(refusal(l).find(reason), std::string::npos) << text << ": " << refusal(l);
  }
}

TEST(TimeBounds, TrustListLabKeyValidUntil9999IsUnbounded) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  std::string y = testing::labs_yaml({lab});
  y += "    valid_from: 0001-01-01\n    valid_until: 9999-12-31\n";
  testing::write_text(d.path / "labs.yaml", y);
  std::vector<std::string> refused;
  auto trust = load_trust_list((d.path / "labs.yaml").string(), refused);
  ASSERT_TRUE(refused.empty()) << refused[0];
  const LabKey* k = trust->find(lab.key_id);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->valid_from_ns, INT64_MIN);
  EXPECT_EQ(k->valid_until_ns, INT64_MAX);
}

// A certificate's validity window follows the same rule; its issue date is an instant and must
// be representable.
TEST(TimeBounds, CertificateWindowUnboundedIssueDateMustBeRepresentable) {
  auto c = testing::make_cert("c1", "s1", testing::kT0, testing::kT0 + testing::kDay);
  testing::sign_cert(c, testing::make_lab("lab-1"));
  const std::string base = to_yaml({c});
  auto with = [&](const std::string& field, const std::string& value) {
    const size_t at = base.find("    " + field + ": ");
    const size_t end = base.find('\n', at);
    return base.substr(0, at) + "    " + field + ": " + value + base.substr(end);
  };
  {
    const auto root =
        engine::ConfigNode::load_string(with("valid_until", "9999-12-31"), "certs.yaml");
    const CalibrationCertificate p = parse_certificate(root.get("certificates").items().at(0));
    EXPECT_EQ(p.valid_until_ns, INT64_MAX);
    EXPECT_EQ(p.valid_from_ns, testing::kT0);
  }
  {
    const auto root =
        engine::ConfigNode::load_string(with("issue_date", "2600-01-01"), "certs.yaml");
    try {
      parse_certificate(root.get("certificates").items().at(0));
      ADD_FAILURE() << "an issue date in 2600 was accepted";
    } catch (const engine::ConfigError& e) {
      EXPECT_EQ(e.key(), "certificates[0].issue_date") << e.what();
      EXPECT_NE(std::string(e.what()).find("2262-04-11"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace assay::registries
