// Campaigns: requests are issued signed, one per instrument and case, on the group's topic;
// responses decide cases; every bad response (unknown request, other instrument, late,
// duplicated, not a reference check, bad signature) is refused with its reason and never
// counted; results are final once, signed, consistent and checkable offline.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "metrology/results_verify.hpp"
#include "metrology_util.hpp"

namespace assay::metrology {
namespace {

using namespace testing;

class CampaignTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fleet_ = new Fleet(make_fleet(40)); }
  static void TearDownTestSuite() { delete fleet_; }
  void SetUp() override {
    ASSERT_GE(fleet_->temperature.size(), 4u);
    ids_.assign(fleet_->temperature.begin(), fleet_->temperature.begin() + 4);
    const auto certs = fleet_->calibration->snapshot();
    plan_ = parse_plan(plan_yaml(ids_), "plan.yaml", *fleet_->identity->current(), certs.get(),
                       kStart + kDay);
    service_ = make_service(*fleet_, plan_, &pub_);
    now_ = kStart + kDay;
    campaign_ = service_->issue_campaign(now_);
    for (const auto& m : pub_->messages()) {
      std::string err;
      auto q = decode_request(m.record, &err);
      ASSERT_TRUE(q) << err;
      requests_[{q->instrument_id, q->case_id}] = *q;
    }
  }
  // An honest answer of `id` to case `c` (value: the raw reading that corrects to `corrected`).
  Answer honest(const std::string& id, const std::string& c, double corrected_offset = 0) {
    Answer a;
    a.sensor = id;
    const Request& q = requests_.at({id, c});
    a.request_id = q.request_id;
    a.reference = q.reference_value;
    a.value = raw_for(*fleet_, id, q.reference_value + corrected_offset);
    a.firmware.assign(fleet_->info(id).approved_firmware[0].begin(),
                      fleet_->info(id).approved_firmware[0].end());
    return a;
  }
  Disposition send(const Answer& a, int64_t at, std::vector<Result>* out, int64_t offset = 1) {
    const auto bytes = response(a);
    Evidence ev;
    ev.source_topic = "sensors.raw";
    ev.source_offset = offset;
    ev.received_ns = at;
    return service_->on_response({wire::GetReading(bytes.data()), ev}, at, out);
  }
  static Fleet* fleet_;
  std::vector<std::string> ids_;
  VerificationPlan plan_;
  std::shared_ptr<CampaignService> service_;
  MemoryPublisher* pub_ = nullptr;
  int64_t now_ = 0;
  std::string campaign_;
  std::map<std::pair<std::string, std::string>, Request> requests_;
};
Fleet* CampaignTest::fleet_ = nullptr;

TEST_F(CampaignTest, OneSignedRequestPerInstrumentAndCaseOnTheGroupsTopic) {
  const auto msgs = pub_->messages();
  ASSERT_EQ(msgs.size(), 8u);
  std::set<std::string> ids;
  for (const auto& m : msgs) {
    EXPECT_EQ(m.topic, "assay.verification.line-3");
    std::string err;
    auto q = decode_request(m.record, &err);
    ASSERT_TRUE(q) << err;
    EXPECT_EQ(m.key, q->instrument_id);
    EXPECT_TRUE(verify_request(*q, test_key()->public_key()));
    EXPECT_EQ(q->plan_sha256, plan_.sha256);
    EXPECT_EQ(q->deadline_ns, now_ + 5000 * 1'000'000LL);
    EXPECT_EQ(q->campaign_id, campaign_);
    EXPECT_TRUE(ids.insert(q->request_id).second) << "request ids are unique";
  }
}

TEST_F(CampaignTest, OutcomesSayExactlyWhichAndWhy) {
  std::vector<Result> out;
  const std::string good = ids_[0], drifted = ids_[1], flashed = ids_[2], silent = ids_[3];
  // Honest: both cases in tolerance.
  EXPECT_EQ(send(honest(good, "tc-20", 0.1), now_ + 1, &out, 10), Disposition::kAccepted);
  EXPECT_TRUE(out.empty()) << "not final before every case is decided";
  EXPECT_EQ(send(honest(good, "tc-60", -0.2), now_ + 2, &out, 11), Disposition::kAccepted);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].instrument_id, good);
  EXPECT_EQ(out[0].outcome, Outcome::kPassed);
  EXPECT_EQ(out[0].reason, "in_tolerance");
  EXPECT_EQ(out[0].firmware_status, FirmwareStatus::kApproved);
  EXPECT_FALSE(out[0].certificate_id.empty());
  EXPECT_GT(out[0].certificate_valid_until_ns, now_);
  // Drifted: 5 Cel off at 20 Cel.
  EXPECT_EQ(send(honest(drifted, "tc-20", 5.0), now_ + 3, &out, 12), Disposition::kAccepted);
  EXPECT_EQ(send(honest(drifted, "tc-60", 0.0), now_ + 4, &out, 13), Disposition::kAccepted);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].outcome, Outcome::kFailed);
  EXPECT_EQ(out[1].reason, "out_of_tolerance");
  EXPECT_NE(out[1].detail.find("case 'tc-20'"), std::string::npos) << out[1].detail;
  EXPECT_NEAR(out[1].cases[0].error, 5.0, 1e-9);
  // Unapproved firmware: failed, whatever the value.
  Answer fw = honest(flashed, "tc-20");
  fw.firmware.assign(32, 0xee);
  EXPECT_EQ(send(fw, now_ + 5, &out, 14), Disposition::kAccepted);
  EXPECT_EQ(send(honest(flashed, "tc-60"), now_ + 6, &out, 15), Disposition::kAccepted);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].outcome, Outcome::kFailed);
  EXPECT_EQ(out[2].reason, "firmware_not_approved");
  EXPECT_EQ(out[2].firmware_status, FirmwareStatus::kNotApproved);
  EXPECT_EQ(out[2].firmware_sha256, std::vector<uint8_t>(32, 0xee));
  // Silent: nothing before the deadline; expire() decides no response, once.
  service_->expire(now_ + 4'000'000'000, &out);
  EXPECT_EQ(out.size(), 3u) << "not before the deadline";
  service_->expire(now_ + 5'000'000'001, &out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].instrument_id, silent);
  EXPECT_EQ(out[3].outcome, Outcome::kNoResponse);
  EXPECT_EQ(out[3].reason, "no_response");
  service_->expire(now_ + 9'000'000'000, &out);
  EXPECT_EQ(out.size(), 4u) << "a result is final once";
  // Every result verifies offline, and the evidence is each response's offset.
  std::vector<std::vector<uint8_t>> records;
  for (const Result& r : out) records.push_back(encode_result(r));
  const ResultsReport rep = verify_results(records, {test_key()->public_key()});
  for (const auto& f : rep.findings) ADD_FAILURE() << f.code << ": " << f.message;
  EXPECT_EQ(rep.results.size(), 4u);
  EXPECT_EQ(out[0].cases[0].evidence->source_offset, 10);
  const CampaignStats s = service_->stats();
  EXPECT_EQ(s.passed, 1u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.no_response, 1u);
  EXPECT_EQ(s.responses_accepted, 6u);
  EXPECT_EQ(s.responses_refused, 0u);
}

TEST_F(CampaignTest, BadResponsesAreRefusedWithReasonsAndNeverCounted) {
  std::vector<Result> out;
  const std::string a = ids_[0], b = ids_[1];
  // A request nobody issued.
  Answer bogus = honest(a, "tc-20");
  bogus.request_id = "vr-ffffffffffffffffffffffffffffffff";
  EXPECT_EQ(send(bogus, now_ + 1, &out), Disposition::kUnknownRequest);
  // Instrument b answers a's request (signed by b: its signature verified).
  Answer other = honest(a, "tc-20");
  other.sensor = b;
  EXPECT_EQ(send(other, now_ + 1, &out, 20), Disposition::kWrongInstrument);
  // Not a reference check.
  Answer plain = honest(a, "tc-20");
  plain.reference_check = false;
  EXPECT_EQ(send(plain, now_ + 1, &out, 21), Disposition::kMalformed);
  // The real answer, then the same answer again.
  EXPECT_EQ(send(honest(a, "tc-20"), now_ + 2, &out, 22), Disposition::kAccepted);
  EXPECT_EQ(send(honest(a, "tc-20", 9.0), now_ + 3, &out, 23), Disposition::kDuplicate);
  // A bad signature is noted on the request (the operator hands it over that way).
  const auto forged = response(honest(a, "tc-60"));
  service_->on_refused(*wire::GetReading(forged.data()), "signature.malformed",
                       Evidence{"sensors.raw", 0, 24, 0, 100, 0, now_ + 3});
  // After the deadline: late, and the result is no response for the open case.
  EXPECT_EQ(send(honest(a, "tc-60"), now_ + 6'000'000'000, &out, 25), Disposition::kLate);
  service_->expire(now_ + 6'000'000'000, &out);
  ASSERT_EQ(out.size(), 4u);
  const Result& ra =
      *std::find_if(out.begin(), out.end(), [&](const Result& r) { return r.instrument_id == a; });
  EXPECT_EQ(ra.outcome, Outcome::kNoResponse);
  EXPECT_EQ(ra.cases[0].outcome, Outcome::kPassed)
      << "the duplicate did not replace the first answer";
  EXPECT_EQ(ra.cases[0].evidence->source_offset, 22);
  EXPECT_EQ(ra.cases[1].outcome, Outcome::kNoResponse);
  std::multiset<std::string> reasons;
  for (const Refusal& f : ra.refused) reasons.insert(f.reason);
  EXPECT_EQ(reasons, (std::multiset<std::string>{
                         "verification.wrong_instrument", "verification.malformed_response",
                         "verification.duplicate_response", "signature.malformed",
                         "verification.late_response"}));
  // After the result is final: the same answers are late or duplicate, never counted again.
  EXPECT_EQ(send(honest(a, "tc-60"), now_ + 7'000'000'000, &out, 26), Disposition::kLate);
  EXPECT_EQ(send(honest(a, "tc-20"), now_ + 7'000'000'000, &out, 27), Disposition::kDuplicate);
  service_->expire(now_ + 8'000'000'000, &out);
  EXPECT_EQ(out.size(), 4u);
  const CampaignStats s = service_->stats();
  EXPECT_EQ(s.responses_accepted, 1u);
  EXPECT_EQ(s.responses_refused, 8u);
  EXPECT_EQ(s.no_response, 4u);
}

TEST_F(CampaignTest, VerifyResultsFindsForgedAlteredAndDuplicatedResults) {
  std::vector<Result> out;
  ASSERT_EQ(send(honest(ids_[0], "tc-20"), now_ + 1, &out, 30), Disposition::kAccepted);
  ASSERT_EQ(send(honest(ids_[0], "tc-60"), now_ + 1, &out, 31), Disposition::kAccepted);
  ASSERT_EQ(out.size(), 1u);
  const auto good = encode_result(out[0]);
  // Signed by another key.
  Result forged = out[0];
  sign_result(forged, *test_key(9));
  // Altered after signing (outcome flipped): signature and consistency both fail.
  Result altered = out[0];
  altered.outcome = Outcome::kFailed;
  // Re-signed with a wrong outcome: the signature holds, the decision does not.
  Result lying = out[0];
  lying.outcome = Outcome::kFailed;
  lying.reason = "out_of_tolerance";
  sign_result(lying, *test_key());
  auto codes = [&](std::vector<std::vector<uint8_t>> recs) {
    std::multiset<std::string> c;
    for (const auto& f : verify_results(recs, {test_key()->public_key()}).findings)
      c.insert(f.code);
    return c;
  };
  EXPECT_TRUE(codes({good}).empty());
  EXPECT_EQ(codes({encode_result(forged)}), (std::multiset<std::string>{"bad_signature"}));
  EXPECT_EQ(codes({encode_result(altered)}).count("bad_signature"), 1u);
  EXPECT_EQ(codes({encode_result(lying)}).count("inconsistent_outcome"), 2u);
  EXPECT_EQ(codes({encode_result(lying)}).count("bad_signature"), 0u);
  const auto dup = codes({good, good});
  EXPECT_EQ(dup.count("duplicate_result"), 1u);
  EXPECT_EQ(dup.count("evidence_reused"), 2u);
  EXPECT_EQ(codes({{1, 2, 3}}), (std::multiset<std::string>{"malformed"}));
  // Against an audit log that holds another record.
  const std::vector<std::vector<uint8_t>> audit = {encode_result(lying)};
  const auto rep = verify_results({good}, {test_key()->public_key()}, &audit);
  ASSERT_EQ(rep.findings.size(), 1u);
  EXPECT_EQ(rep.findings[0].code, "not_in_audit_log");
}

TEST_F(CampaignTest, AnExpiredCertificateMakesTheCaseIndeterminate) {
  std::vector<Result> out;
  Answer a = honest(ids_[0], "tc-20");
  a.time_ns = kStart + 4000 * kDay;  // long after every certificate ended
  ASSERT_EQ(send(a, now_ + 1, &out, 40), Disposition::kAccepted);
  ASSERT_EQ(send(honest(ids_[0], "tc-60"), now_ + 1, &out, 41), Disposition::kAccepted);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, Outcome::kIndeterminate);
  EXPECT_EQ(out[0].reason, "certificate_expired");
}

}  // namespace
}  // namespace assay::metrology
