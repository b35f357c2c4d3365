// The protocol's records: requests and results round-trip, their signatures cover every field,
// the gateway's independent canonical bytes agree with Assay's, malformed records are refused,
// and the case decision follows the guard-banded rule of docs/calibration.md.
#include "metrology/protocol.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "metrology_util.hpp"
#include "sim/responder.hpp"

namespace assay::metrology {
namespace {

using testing::test_key;

Request sample_request() {
  Request q;
  q.request_id = "vr-0123456789abcdef0123456789abcdef";
  q.plan_id = "thermo-q1";
  q.plan_sha256.fill(0xab);
  q.campaign_id = "thermo-q1@2026-01-02T00:00:00Z";
  q.case_id = "tc-20";
  q.instrument_id = "urn:assay:sim:3:sensor:000001";
  q.group = "line-3";
  q.quantity = "temperature";
  q.unit = "Cel";
  q.reference_value = 20.125;
  q.stimulus = "bath 20 Cel";
  q.issued_ns = 1'767'312'000'000'000'000;
  q.deadline_ns = q.issued_ns + 5'000'000'000;
  return q;
}

Result sample_result() {
  Result r;
  r.result_id = "thermo-q1@2026-01-02T00:00:00Z/urn:assay:sim:3:sensor:000001";
  r.plan_id = "thermo-q1";
  r.plan_sha256.fill(1);
  r.campaign_id = "thermo-q1@2026-01-02T00:00:00Z";
  r.instrument_id = "urn:assay:sim:3:sensor:000001";
  r.group = "line-3";
  CaseResult c;
  c.case_id = "tc-20";
  c.request_id = "vr-1";
  c.reference_value = 20;
  c.mpe_absolute = 2;
  c.mpe = 2;
  c.value = 20.1;
  c.corrected = 20.05;
  c.expanded_uncertainty = 0.3;
  c.error = c.corrected - c.reference_value;
  c.response_reference_value = 20;
  c.outcome = Outcome::kPassed;
  c.reason = "in_tolerance";
  c.evidence = Evidence{"sensors.raw", 1, 4711, 0, 100, 5, 6};
  r.cases.push_back(c);
  CaseResult open;
  open.case_id = "tc-60";
  open.request_id = "vr-2";
  open.reference_value = 60;
  open.mpe_absolute = 1.5;
  open.mpe_relative = 0.01;
  open.mpe = 2.1;
  r.cases.push_back(open);
  r.refused.push_back({"vr-2", "signature.malformed", Evidence{"sensors.raw", 0, 12, 0, 3, 4, 5}});
  r.outcome = aggregate(r.cases);
  r.reason = "no_response";
  r.certificate_id = "urn:assay:sim:3:cert:000001";
  r.certificate_valid_until_ns = 42;
  return r;
}

TEST(Protocol, RequestRoundTripsAndItsSignatureCoversEveryField) {
  const auto key = test_key();
  Request q = sample_request();
  sign_request(q, *key);
  EXPECT_TRUE(verify_request(q, key->public_key()));
  const auto bytes = encode_request(q);
  std::string err;
  const auto back = decode_request(bytes, &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(back->request_id, q.request_id);
  EXPECT_EQ(back->reference_value, q.reference_value);
  EXPECT_EQ(back->deadline_ns, q.deadline_ns);
  EXPECT_TRUE(verify_request(*back, key->public_key()));
  // Any field changed after signing breaks the signature.
  for (int field = 0; field < 6; ++field) {
    Request t = *back;
    switch (field) {
      case 0:
        t.instrument_id += "x";
        break;
      case 1:
        t.reference_value += 1e-9;
        break;
      case 2:
        t.deadline_ns += 1;
        break;
      case 3:
        t.plan_sha256[0] ^= 1;
        break;
      case 4:
        t.case_id = "tc-60";
        break;
      case 5:
        t.stimulus.clear();
        break;
    }
    EXPECT_FALSE(verify_request(t, key->public_key())) << "field " << field;
  }
  EXPECT_FALSE(verify_request(*back, test_key(9)->public_key()));
}

TEST(Protocol, TheGatewaysOwnCanonicalBytesMatchAssays) {
  // sim/responder.cpp implements the canonical bytes from docs/metrology-cloud.md on its own.
  Request q = sample_request();
  sign_request(q, *test_key());
  const auto record = encode_request(q);
  std::string err;
  EXPECT_EQ(sim::gateway_request_canonical_bytes(record, &err), request_canonical_bytes(q)) << err;
  sim::Responder gw(test_key()->public_key());
  gw.set_fleet({{q.instrument_id, 0}}, {sim::Answer::kHonest});
  EXPECT_TRUE(gw.deliver(record, q.issued_ns, &err)) << err;
  EXPECT_FALSE(gw.deliver(record, q.issued_ns, &err));
  EXPECT_EQ(err, "already seen");
  sim::Responder other(test_key(9)->public_key());
  other.set_fleet({{q.instrument_id, 0}}, {sim::Answer::kHonest});
  EXPECT_FALSE(other.deliver(record, q.issued_ns, &err));
  EXPECT_EQ(err, "the engine's signature does not verify");
  sim::Responder late(test_key()->public_key());
  late.set_fleet({{q.instrument_id, 0}}, {sim::Answer::kHonest});
  EXPECT_FALSE(late.deliver(record, q.deadline_ns + 1, &err));
  EXPECT_EQ(err, "past its deadline");
  const auto taken = gw.take(0);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->request_id, q.request_id);
  EXPECT_FALSE(gw.take(0));
}

TEST(Protocol, MalformedRecordsAreRefused) {
  std::string err;
  EXPECT_FALSE(decode_request({}, &err));
  const std::vector<uint8_t> junk(100, 0x41);
  EXPECT_FALSE(decode_request(junk, &err));
  EXPECT_FALSE(decode_result(junk, &err));
  Request q = sample_request();
  sign_request(q, *test_key());
  auto bytes = encode_request(q);
  for (size_t cut : {size_t{9}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> t(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(decode_request(t, &err)) << cut;
  }
  Result r = sample_result();
  sign_result(r, *test_key());
  auto rb = encode_result(r);
  for (size_t cut : {size_t{9}, rb.size() / 3, rb.size() / 2}) {
    std::vector<uint8_t> t(rb.begin(), rb.begin() + static_cast<long>(cut));
    EXPECT_FALSE(decode_result(t, &err)) << cut;
  }
  // A result record is no request and the other way round.
  EXPECT_FALSE(decode_request(rb, &err));
  EXPECT_FALSE(decode_result(bytes, &err));
}

TEST(Protocol, ResultRoundTripsAndItsSignatureCoversCasesAndEvidence) {
  const auto key = test_key();
  Result r = sample_result();
  sign_result(r, *key);
  std::string err;
  const auto back = decode_result(encode_result(r), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_TRUE(verify_result(*back, key->public_key()));
  ASSERT_EQ(back->cases.size(), 2u);
  ASSERT_TRUE(back->cases[0].evidence);
  EXPECT_EQ(back->cases[0].evidence->source_offset, 4711);
  EXPECT_FALSE(back->cases[1].evidence);
  EXPECT_EQ(back->outcome, Outcome::kNoResponse);
  EXPECT_EQ(back->refused.at(0).reason, "signature.malformed");
  Result t = *back;
  t.cases[0].evidence->source_offset = 4712;
  EXPECT_FALSE(verify_result(t, key->public_key()));
  t = *back;
  t.outcome = Outcome::kPassed;
  EXPECT_FALSE(verify_result(t, key->public_key()));
  t = *back;
  t.refused.clear();
  EXPECT_FALSE(verify_result(t, key->public_key()));
}

TEST(Protocol, AggregateFailedBeatsNoResponseBeatsIndeterminateBeatsPassed) {
  auto with = [](std::initializer_list<Outcome> os) {
    std::vector<CaseResult> cs;
    for (Outcome o : os) {
      CaseResult c;
      c.outcome = o;
      cs.push_back(c);
    }
    return aggregate(cs);
  };
  EXPECT_EQ(with({}), Outcome::kNoResponse);
  EXPECT_EQ(with({Outcome::kPassed, Outcome::kPassed}), Outcome::kPassed);
  EXPECT_EQ(with({Outcome::kPassed, Outcome::kIndeterminate}), Outcome::kIndeterminate);
  EXPECT_EQ(with({Outcome::kIndeterminate, Outcome::kNoResponse}), Outcome::kNoResponse);
  EXPECT_EQ(with({Outcome::kNoResponse, Outcome::kFailed, Outcome::kPassed}), Outcome::kFailed);
}

// The worked example of docs/calibration.md with the plan's MPE of 1.0: U = 0.25.
TEST(Protocol, CaseDecisionIsTheGuardBandedRule) {
  auto decide = [](double corrected, double response_ref = 0,
                   wire::CalibrationVerdict v = wire::CalibrationVerdict::InTolerance,
                   operators::DecisionRule rule = operators::DecisionRule::kGuarded) {
    operators::CalibrationResult cal;
    cal.verdict = v;
    cal.corrected = corrected;
    cal.expanded = 0.25;
    CaseResult c;
    decide_case({0, 1.0, 0}, cal, response_ref, rule, c);
    return c;
  };
  EXPECT_EQ(decide(0.75).reason, "in_tolerance");  // 0.75 + 0.25 = 1.0 <= 1.0
  EXPECT_EQ(decide(0.875).reason, "indeterminate");
  EXPECT_EQ(decide(-1.25).reason, "indeterminate");  // 1.25 - 0.25 = 1.0, not > 1.0
  EXPECT_EQ(decide(1.375).reason, "out_of_tolerance");
  EXPECT_EQ(decide(1.375).outcome, Outcome::kFailed);
  EXPECT_EQ(
      decide(0.875, 0, wire::CalibrationVerdict::InTolerance, operators::DecisionRule::kSimple)
          .reason,
      "in_tolerance");
  EXPECT_EQ(decide(0.1, 0.5).reason, "reference_mismatch");
  EXPECT_EQ(decide(0.1, 0, wire::CalibrationVerdict::FirmwareNotApproved).outcome,
            Outcome::kFailed);
  EXPECT_EQ(decide(0.1, 0, wire::CalibrationVerdict::CertificateExpired).reason,
            "certificate_expired");
  EXPECT_EQ(decide(0.1, 0, wire::CalibrationVerdict::CertificateExpired).outcome,
            Outcome::kIndeterminate);
  EXPECT_EQ(decide(NAN).reason, "value_not_finite");
  // Out of the measuring range still compares the error (and fails here).
  EXPECT_EQ(decide(50, 0, wire::CalibrationVerdict::OutsideMeasuringRange).reason,
            "out_of_tolerance");
  const CaseResult c = decide(0.5);
  EXPECT_EQ(c.error, 0.5);
  EXPECT_EQ(c.mpe, 1.0);
}

TEST(Protocol, RecheckFindsEveryAlteredNumber) {
  operators::CalibrationResult cal;
  cal.verdict = wire::CalibrationVerdict::InTolerance;
  cal.corrected = 20.4;
  cal.expanded = 0.3;
  CaseResult c;
  c.case_id = "tc-20";
  c.reference_value = 20;
  c.mpe_absolute = 1;
  c.evidence = Evidence{};
  c.response_reference_value = 20;
  decide_case({20, 1, 0}, cal, 20, operators::DecisionRule::kGuarded, c);
  std::string why;
  EXPECT_TRUE(recheck_case(c, operators::DecisionRule::kGuarded, &why)) << why;
  CaseResult t = c;
  t.expanded_uncertainty = 0.7;  // now the guard band straddles: not "in_tolerance"
  EXPECT_FALSE(recheck_case(t, operators::DecisionRule::kGuarded, &why));
  t = c;
  t.error = 0.1;
  EXPECT_FALSE(recheck_case(t, operators::DecisionRule::kGuarded, &why));
  t = c;
  t.mpe = 5;
  EXPECT_FALSE(recheck_case(t, operators::DecisionRule::kGuarded, &why));
  t = c;
  t.outcome = Outcome::kFailed;
  EXPECT_FALSE(recheck_case(t, operators::DecisionRule::kGuarded, &why));
  t = c;
  t.reason = "firmware_not_approved";  // implies failed
  EXPECT_FALSE(recheck_case(t, operators::DecisionRule::kGuarded, &why));
  t = c;
  t.evidence.reset();
  EXPECT_FALSE(recheck_case(t, operators::DecisionRule::kGuarded, &why));
}

}  // namespace
}  // namespace assay::metrology
