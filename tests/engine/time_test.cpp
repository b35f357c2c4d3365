// engine/time: RFC 3339 parsing without overflow (issue 13, item 13), and formatting.
#include "engine/time.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace assay::engine {
namespace {

constexpr int64_t kS = 1'000'000'000;

TEST(Time, ParsesRfc3339AndDates) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("1970-01-01"), 0);
  EXPECT_EQ(parse_rfc3339("2026-01-31T12:00:00Z"), 1'769'860'800 * kS);
  EXPECT_EQ(parse_rfc3339("2026-01-31t12:00:00z"), 1'769'860'800 * kS);
  EXPECT_EQ(parse_rfc3339("2026-01-31 12:00:00Z"), 1'769'860'800 * kS);
  EXPECT_EQ(parse_rfc3339("2026-01-31T13:00:00.5+01:00"), 1'769'860'800 * kS + kS / 2);
  EXPECT_EQ(parse_rfc3339("2026-01-31T11:30:00-00:30"), 1'769'860'800 * kS);
  EXPECT_EQ(parse_rfc3339("2026-01-31T12:00:00.000000001Z"), 1'769'860'800 * kS + 1);
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59.5Z"), -kS / 2);
  EXPECT_EQ(parse_rfc3339("2024-02-29"), 1'709'164'800 * kS);  // a leap day
}

// The edges of int64 nanoseconds: 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z.
TEST(Time, InstantsOutsideTheRepresentableRangeAreRefusedNotWrapped) {
  EXPECT_EQ(parse_rfc3339("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
  EXPECT_EQ(parse_rfc3339("1677-09-21T00:12:43.145224192Z"), INT64_MIN);
  EXPECT_EQ(parse_rfc3339("2262-04-11"), 9'223'286'400 * kS);
  EXPECT_EQ(parse_rfc3339("2262-04-11T23:47:16.854775808Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("1677-09-21T00:12:43.145224191Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("1677-09-21"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("2600-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("9999-12-31"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59.999999999-23:59"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0001-01-01"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00+23:59"), std::nullopt);
}

TEST(Time, LeapSecondsImpossibleDatesAndOddFormatsAreRefused) {
  for (const char* bad : {"2016-12-31T23:59:60Z",
                          "2026-02-29",
                          "2100-02-29",
                          "2026-04-31",
                          "2026-00-10",
                          "2026-13-01",
                          "2026-01-00",
                          "2026-01-32",
                          "2026-01-01T24:00:00Z",
                          "2026-01-01T23:60:00Z",
                          "2026-01-01T00:00:00",
                          "2026-01-01T00:00:00+24:00",
                          "2026-01-01T00:00:00+01:60",
                          "2026-01-01T00:00:00+0100",
                          "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00.1234567891Z",
                          "2026-01-01T00:00Z",
                          "26-01-01",
                          "2026-1-1",
                          "+2026-01-01",
                          "2026-01-01 ",
                          " 2026-01-01",
                          "2026-01-01Tjunk",
                          "2026-01-01T00:00:00Zjunk",
                          "",
                          "now",
                          "2026/01/01"})
    EXPECT_EQ(parse_rfc3339(bad), std::nullopt) << "'" << bad << "'";
}

// The rule (docs/config-reference.md, "Dates and times"): a validity bound beyond the range is
// unbounded on that side; a bound that would leave the window empty, and an instant outside
// the range, are refused with the reason.
TEST(Time, ValidityBoundsBeyondTheRangeAreUnboundedOnThatSide) {
  struct Case {
    const char* text;
    std::optional<int64_t> instant, from, until;
  };
  const std::optional<int64_t> no;
  const Case cases[] = {
      {"0001-01-01", no, INT64_MIN, no},
      {"1677-09-21", no, INT64_MIN, no},
      {"1677-09-21T00:12:43.145224192Z", INT64_MIN, INT64_MIN, INT64_MIN},
      {"2026-01-31T12:00:00Z", 1'769'860'800 * kS, 1'769'860'800 * kS, 1'769'860'800 * kS},
      {"2262-04-11", 9'223'286'400 * kS, 9'223'286'400 * kS, 9'223'286'400 * kS},
      {"2262-04-11T23:47:16.854775807Z", INT64_MAX, INT64_MAX, INT64_MAX},
      {"2262-04-12", no, no, INT64_MAX},
      {"2600-01-01", no, no, INT64_MAX},
      {"2600-01-01T00:00:00Z", no, no, INT64_MAX},
      {"9999-12-31", no, no, INT64_MAX},
      {"9999-12-31T23:59:59.999999999Z", no, no, INT64_MAX},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse_time(c.text, TimeBound::kInstant).ns, c.instant) << c.text;
    EXPECT_EQ(parse_time(c.text, TimeBound::kFrom).ns, c.from) << c.text;
    EXPECT_EQ(parse_time(c.text, TimeBound::kUntil).ns, c.until) << c.text;
  }
  const ParsedTime early = parse_time("1600-01-01", TimeBound::kUntil);
  EXPECT_NE(early.error.find("before 1677-09-21T00:12:43.145224192Z"), std::string::npos)
      << early.error;
  EXPECT_NE(early.error.find("window ending then contains no time"), std::string::npos)
      << early.error;
  const ParsedTime late = parse_time("9999-12-31", TimeBound::kFrom);
  EXPECT_NE(late.error.find("after 2262-04-11T23:47:16.854775807Z"), std::string::npos)
      << late.error;
  const ParsedTime instant = parse_time("2600-01-01", TimeBound::kInstant);
  EXPECT_NE(instant.error.find("'2600-01-01' is after 2262-04-11"), std::string::npos)
      << instant.error;
}

TEST(Time, RefusalsSayWhy) {
  auto why = [](const char* t) { return parse_time(t, TimeBound::kUntil).error; };
  EXPECT_NE(why("2016-12-31T23:59:60Z").find("leap second"), std::string::npos);
  EXPECT_NE(why("2026-02-29").find("2026-02 has 28 days"), std::string::npos);
  EXPECT_NE(why("2026-13-01").find("month 13"), std::string::npos);
  EXPECT_NE(why("2026-01-01T24:00:00Z").find("hour 24"), std::string::npos);
  EXPECT_NE(why("2026-01-01T00:00:00").find("no UTC offset"), std::string::npos);
  EXPECT_NE(why("2026-01-01T00:00:00+24:00").find("UTC offset +24:00 is out of range"),
            std::string::npos);
  EXPECT_NE(why("2026-01-01T00:00:00.1234567891Z").find("one nanosecond"), std::string::npos);
  EXPECT_NE(why("yesterday").find("expected an RFC 3339 time"), std::string::npos);
  EXPECT_TRUE(parse_time("2026-01-01", TimeBound::kUntil).error.empty());
}

TEST(Time, FormatsEveryInt64AndRoundTrips) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(INT64_MAX), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(format_rfc3339(INT64_MIN), "1677-09-21T00:12:43.145224192Z");
  for (int64_t t : {INT64_MIN, INT64_MIN + 1, -kS / 2, int64_t{0}, int64_t{1}, 1'769'860'800 * kS,
                    INT64_MAX - 1, INT64_MAX})
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << t;
}

}  // namespace
}  // namespace assay::engine
