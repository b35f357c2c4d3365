// Remote verification end to end on the real broker (issue 17): `assay run` runs a
// verification plan over a simulated fleet — signed test-case requests on one command topic per
// instrument group — while `assay simulate` streams the fleet into Kafka and its instruments
// answer: honestly, drifted, with unapproved firmware, not at all, signed with another
// instrument's key, or twice. The signed e-verification results must say exactly which failed
// and why; the register's HTTP filters must answer them; bad responses injected by hand (an
// unknown request, a late answer) are refused with their reasons; `assay verify-results` checks
// the results against the audit log.
#include <openssl/hmac.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "engine/time.hpp"
#include "kafka_util.hpp"
#include "metrology/protocol.hpp"

namespace assay::kt {
namespace {

using json = nlohmann::json;

struct Instrument {
  std::string id, quantity, unit, key_id, secret_file, firmware;
  std::string answer;  // from the simulator's answers file
};

// Cases per quantity: reference values inside every simulated instrument's range, MPEs that an
// honest instrument meets (|e| + U of a few sigma) and a drifted one (200 sigma) does not.
const std::map<std::string, std::string> kCases = {
    {"temperature",
     "[{id: tc-20, reference_value: 20, mpe: 2.0, stimulus: bath 20 Cel}, "
     "{id: tc-60, reference_value: 60, mpe: {absolute: 1.5, relative: 0.01}}]"},
    {"pressure", "[{id: tc-atm, reference_value: 101325, mpe: 200}]"},
    {"mass", "[{id: tc-10kg, reference_value: 10, mpe: 0.05}]"},
    {"voltage", "[{id: tc-230, reference_value: 230, mpe: 2.0}]"},
};

// A SignedReading answering `request_id` for an HMAC instrument, signed with its secret.
std::vector<uint8_t> hmac_answer(const Instrument& in, const fs::path& registry_dir,
                                 const std::string& request_id, int64_t time_ns) {
  const std::map<std::string, double> reference = {
      {"temperature", 20}, {"pressure", 101325}, {"mass", 10}, {"voltage", 230}};
  flatbuffers::FlatBufferBuilder body;
  auto id = body.CreateString(in.id);
  auto rid = body.CreateString(request_id);
  auto q = body.CreateString(in.quantity);
  auto u = body.CreateString(in.unit);
  std::vector<uint8_t> fw_bytes;
  for (size_t i = 0; i + 1 < in.firmware.size(); i += 2)
    fw_bytes.push_back(static_cast<uint8_t>(std::stoi(in.firmware.substr(i, 2), nullptr, 16)));
  auto fw = body.CreateVector(fw_bytes);
  wire::ReadingBuilder rb(body);
  rb.add_sensor_id(id);
  rb.add_seq(1);
  rb.add_time_ns(time_ns);
  rb.add_quantity(q);
  rb.add_unit(u);
  rb.add_value(reference.at(in.quantity));
  rb.add_firmware_sha256(fw);
  rb.add_kind(wire::ReadingKind::ReferenceCheck);
  rb.add_reference_value(reference.at(in.quantity));
  rb.add_request_id(rid);
  wire::FinishReadingBuffer(body, rb.Finish());
  const std::string hex = trim(read_text(registry_dir / in.secret_file));
  std::vector<uint8_t> secret;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    secret.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  std::vector<uint8_t> sig(32);
  unsigned int len = 32;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), body.GetBufferPointer(),
       body.GetSize(), sig.data(), &len);
  flatbuffers::FlatBufferBuilder outer;
  outer.ForceVectorAlignment(body.GetSize(), 1, 8);
  auto b = outer.CreateVector(body.GetBufferPointer(), body.GetSize());
  auto k = outer.CreateString(in.key_id);
  auto s = outer.CreateVector(sig);
  wire::FinishSignedReadingBuffer(
      outer, wire::CreateSignedReading(outer, b, k, wire::SignatureAlg::HmacSha256, s));
  return {outer.GetBufferPointer(), outer.GetBufferPointer() + outer.GetSize()};
}

TEST(MetrologyCampaign, SignedResultsSayWhichInstrumentsFailAndWhyOnTheRealBroker) {
  ASSAY_REQUIRE_BROKER();
  const fs::path dir = work_dir("metrology");
  const std::string brokers = bootstrap();
  ASSERT_EQ(
      run_to_end({assay_bin(), "keygen", "--alg", "ed25519", "--out", (dir / "engine").string()},
                 dir, "keygen", 60s),
      0);
  // The fleet: 40 instruments (half HMAC, so that the test can sign answers by hand), no
  // faults but the answers', one reading per instrument per 0.1 s for 7 s. (CI time: the
  // campaign's deadline comes 4 s after its requests, the stream goes on for ~2 s after it,
  // the run ends 5 s after the stream: ~14 s in all.)
  const std::string start =
      engine::format_rfc3339((engine::now_ns() / 1'000'000'000 - 3600) * 1'000'000'000);
  std::vector<std::string> fleet_args = {"--sensors",        "40",
                                         "--records",        "2800",
                                         "--seed",           "17",
                                         "--start-time",     start,
                                         "--alg-mix",        "ed25519=0.5,hmac=0.5",
                                         "--batch-fraction", "0",
                                         "--interval-ms",    "1000"};
  for (const char* f : {"forged=0", "tampered=0", "replay=0", "unknown_key=0", "drift=0", "spike=0",
                        "stuck=0", "clock_skew=0", "expired_calibration=0"}) {
    fleet_args.push_back("--fault");
    fleet_args.push_back(f);
  }
  std::vector<std::string> prep = {assay_bin(),      "simulate",
                                   "--out",          (dir / "prep.asy").string(),
                                   "--registry-out", (dir / "sensors.yaml").string(),
                                   "--certs-out",    (dir / "certificates.yaml").string(),
                                   "--labs-out",     (dir / "labs.yaml").string(),
                                   "--labels-out",   ""};
  prep.insert(prep.end(), fleet_args.begin(), fleet_args.end());
  ASSERT_EQ(run_to_end(prep, dir, "prep", 120s), 0) << read_text(dir / "prep.err");

  // The plan: one group (and command topic) per quantity, every instrument in it.
  std::map<std::string, Instrument> instruments;
  std::map<std::string, std::vector<std::string>> by_quantity;
  for (const auto& s : YAML::LoadFile((dir / "sensors.yaml").string())["sensors"]) {
    Instrument in;
    in.id = s["sensor_id"].as<std::string>();
    in.quantity = s["quantity"].as<std::string>();
    in.unit = s["unit"].as<std::string>();
    in.firmware = s["approved_firmware"][0].as<std::string>();
    in.key_id = s["keys"][0]["key_id"].as<std::string>();
    if (s["keys"][0]["secret_file"]) in.secret_file = s["keys"][0]["secret_file"].as<std::string>();
    by_quantity[in.quantity].push_back(in.id);
    instruments[in.id] = in;
  }
  ASSERT_EQ(instruments.size(), 40u);
  const std::string tag = unique_name("m");
  std::string plan = "plan: {id: fleet-verification, authority: market surveillance}\ngroups:\n";
  std::vector<std::string> command_topics;
  for (const auto& [q, ids] : by_quantity) {
    const std::string topic = tag + "-cmd-" + q;
    command_topics.push_back(topic);
    create_topic(topic, 1);
    plan += "  - id: " + q + "\n    command_topic: " + topic + "\n    instruments:\n";
    for (const auto& id : ids) plan += "      - \"" + id + "\"\n";
    plan += "    cases: " + kCases.at(q) + "\n";
  }
  plan += "schedule: {start: now, start_delay_ms: 1000, response_timeout_ms: 4000}\n";
  write_text(dir / "plan.yaml", plan);
  const std::string raw = tag + "-raw";
  create_topic(raw, 2);

  const int port = free_port();
  const std::string d = dir.string();
  write_text(dir / "pipeline.yaml",
             "name: metrology-it\n"
             "input: {type: kafka, brokers: " +
                 brokers + ", topic: " + raw + ", group_id: " + tag +
                 ", idle_timeout_ms: 5000}\n"
                 "registries:\n"
                 "  identity: {file: " +
                 d +
                 "/sensors.yaml}\n"
                 "  calibration: {certificates: " +
                 d + "/certificates.yaml, trust: " + d +
                 "/labs.yaml}\n"
                 "operators:\n"
                 "  - type: verify_signature\n"
                 "  - type: verification\n"
                 "    plan: " +
                 d +
                 "/plan.yaml\n"
                 "    key: " +
                 d +
                 "/engine.key\n"
                 "    commands: {brokers: " +
                 brokers +
                 "}\n"
                 "  - type: calibration\n"
                 "    reject: [no_certificate, certificate_expired, certificate_not_yet_valid,\n"
                 "             outside_measuring_range, quantity_mismatch, unit_mismatch, "
                 "firmware_not_approved]\n"
                 "  - type: instrument_register\n"
                 "    snapshot: " +
                 d +
                 "/register.jsonl\n"
                 "    trusted_endpoint: kafka://" +
                 brokers + "/" + tag +
                 "-trusted\n"
                 "routes:\n"
                 "  trusted: {type: file, path: " +
                 d +
                 "/trusted.asy}\n"
                 "  rejected: {type: jsonl, path: " +
                 d +
                 "/rejected.jsonl}\n"
                 "  verifications: {type: file, path: " +
                 d +
                 "/verifications.asy}\n"
                 "audit: {file: " +
                 d + "/audit.log, key: " + d +
                 "/engine.key}\n"
                 "metrics: {listen: 127.0.0.1:" +
                 std::to_string(port) + "}\n");
  Child engine({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress"},
               dir / "run.out", dir / "run.err");
  ASSERT_TRUE(engine.started());
  ASSERT_TRUE(wait_until(
      [&] { return http_status(port, "/register/summary") == 200 || !engine.running(); }, 60s))
      << engine.err();
  ASSERT_TRUE(engine.running()) << engine.err();

  // The fleet streams and answers; 10 % of the instruments answer each wrong way.
  fs::create_directories(dir / "live");
  std::vector<std::string> live = {assay_bin(),
                                   "simulate",
                                   "--brokers",
                                   brokers,
                                   "--topic",
                                   raw,
                                   "--registry-out",
                                   (dir / "live/sensors.yaml").string(),
                                   "--certs-out",
                                   (dir / "live/certificates.yaml").string(),
                                   "--labs-out",
                                   (dir / "live/labs.yaml").string(),
                                   "--labels-out",
                                   "",
                                   "--rate",
                                   "400",
                                   "--engine-public-key",
                                   (dir / "engine.pub").string(),
                                   "--answer-drift-sigma",
                                   "200",
                                   "--answers-out",
                                   (dir / "answers.jsonl").string()};
  for (const auto& t : command_topics) {
    live.push_back("--answer-requests");
    live.push_back(t);
  }
  for (const char* a :
       {"drifted=0.1", "wrong_firmware=0.1", "silent=0.1", "wrong_key=0.1", "duplicate=0.1"}) {
    live.push_back("--answer-fault");
    live.push_back(a);
  }
  live.insert(live.end(), fleet_args.begin(), fleet_args.end());
  Child sim(live, dir / "sim.out", dir / "sim.err");
  ASSERT_TRUE(sim.started());

  // The register knows every instrument's result once the campaign is over.
  json summary;
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string r = http_get(port, "/register/summary");
        const size_t body = r.find("\r\n\r\n");
        if (body == std::string::npos) return false;
        summary = json::parse(r.substr(body + 4), nullptr, false);
        return !summary.is_discarded() && summary["verification"]["never"] == 0;
      },
      90s, 200ms))
      << summary.dump() << "\n"
      << engine.err() << "\n"
      << sim.err();
  {
    std::ifstream in(dir / "answers.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line);
      instruments.at(j["sensor_id"].get<std::string>()).answer = j["answer"].get<std::string>();
    }
  }
  auto ids_with = [&](std::initializer_list<const char*> answers) {
    std::set<std::string> s;
    for (const auto& [id, in] : instruments)
      for (const char* a : answers)
        if (in.answer == a) s.insert(id);
    return s;
  };
  auto filter = [&](const std::string& query) {
    std::set<std::string> s;
    const std::string r = http_get(port, "/register/instruments?limit=1000&" + query);
    const json page = json::parse(r.substr(r.find("\r\n\r\n") + 4));
    for (const auto& i : page["instruments"]) s.insert(i["id"].get<std::string>());
    return s;
  };
  EXPECT_EQ(filter("verification=failed"), ids_with({"drifted", "wrong_firmware"}));
  EXPECT_EQ(filter("verification=no_response"), ids_with({"silent", "wrong_key"}));
  EXPECT_EQ(filter("verification=passed"), ids_with({"honest", "duplicate"}));
  EXPECT_EQ(filter("firmware=not_approved"), ids_with({"wrong_firmware"}));
  EXPECT_EQ(filter("firmware=not_approved&verification=failed"), ids_with({"wrong_firmware"}));
  EXPECT_EQ(filter("calibration_expires_within_days=400").size(), 40u);
  EXPECT_TRUE(filter("calibration_expires_within_days=30").empty());
  EXPECT_EQ(ids_with({"drifted"}).size(), 4u);
  // The results are outputs of route `verifications` in the pipeline's route account.
  const std::string routed =
      "assay_route_records_total{pipeline=\"metrology-it\",route=\"verifications\"} 40\n";
  EXPECT_TRUE(wait_until(
      [&] { return http_get(port, "/metrics").find(routed) != std::string::npos; }, 10s, 100ms))
      << http_get(port, "/metrics");

  // Bad responses by hand: an unknown request, and a late answer (signed correctly by HMAC
  // instruments, so only the verification rules refuse them).
  const Instrument* hmac = nullptr;
  const Instrument* late_one = nullptr;
  for (const auto& [id, in] : instruments) {
    if (in.secret_file.empty()) continue;
    if (hmac == nullptr) hmac = &in;
    if (late_one == nullptr && in.answer == "silent") late_one = &in;
  }
  ASSERT_NE(hmac, nullptr);
  ASSERT_NE(late_one, nullptr) << "the seeded fleet has a silent HMAC instrument";
  std::string late_request;
  for (const auto& t : command_topics)
    for (const Message& m : consume_all(t, 60000)) {
      std::string err;
      auto q = metrology::decode_request(m.value, &err);
      ASSERT_TRUE(q) << err;
      if (q->instrument_id == late_one->id) late_request = q->request_id;
    }
  const int64_t t0 = *engine::parse_rfc3339(start) + 1'000'000'000;
  std::vector<std::vector<uint8_t>> bad = {
      hmac_answer(*hmac, dir, "vr-00000000000000000000000000000000", t0)};
  ASSERT_FALSE(late_request.empty());
  bad.push_back(hmac_answer(*late_one, dir, late_request, t0));
  Producer producer(raw);
  producer.produce(bad, 0, bad.size());
  ASSERT_TRUE(producer.flush());

  // The run ends by itself (the fleet goes quiet); its results verify against the audit log.
  ASSERT_TRUE(sim.wait_for(120s)) << sim.err();
  EXPECT_EQ(*sim.poll(), 0) << sim.err();
  ASSERT_TRUE(engine.wait_for(120s)) << engine.err();
  EXPECT_EQ(*engine.poll(), 0) << engine.err();
  const int rc = run_to_end(
      {assay_bin(), "verify-results", (dir / "verifications.asy").string(), "--public-key",
       (dir / "engine.pub").string(), "--audit", (dir / "audit.log").string()},
      dir, "verify-results", 60s);
  EXPECT_EQ(rc, 0) << read_text(dir / "verify-results.out");
  EXPECT_EQ(run_to_end({assay_bin(), "verify-audit", (dir / "audit.log").string(), "--public-key",
                        (dir / "engine.pub").string(), "--quiet"},
                       dir, "verify-audit", 60s),
            0)
      << read_text(dir / "verify-audit.out");

  // Exactly one signed result per instrument, saying which and why.
  std::map<std::string, metrology::Result> results;
  for (const auto& rec : read_frames(dir / "verifications.asy")) {
    std::string err;
    auto r = metrology::decode_result(rec, &err);
    ASSERT_TRUE(r) << err;
    EXPECT_TRUE(results.emplace(r->instrument_id, *r).second)
        << "two results for " << r->instrument_id;
  }
  ASSERT_EQ(results.size(), 40u);
  for (const auto& [id, in] : instruments) {
    const metrology::Result& r = results.at(id);
    SCOPED_TRACE(id + " answers " + in.answer);
    if (in.answer == "honest" || in.answer == "duplicate") {
      EXPECT_EQ(r.outcome, metrology::Outcome::kPassed);
      EXPECT_EQ(r.reason, "in_tolerance");
      EXPECT_EQ(r.firmware_status, metrology::FirmwareStatus::kApproved);
    } else if (in.answer == "drifted") {
      EXPECT_EQ(r.outcome, metrology::Outcome::kFailed);
      EXPECT_EQ(r.reason, "out_of_tolerance");
    } else if (in.answer == "wrong_firmware") {
      EXPECT_EQ(r.outcome, metrology::Outcome::kFailed);
      EXPECT_EQ(r.reason, "firmware_not_approved");
      EXPECT_EQ(r.firmware_status, metrology::FirmwareStatus::kNotApproved);
    } else {
      EXPECT_EQ(r.outcome, metrology::Outcome::kNoResponse);
      EXPECT_EQ(r.reason, "no_response");
      bool malformed = false;
      for (const auto& f : r.refused) malformed = malformed || f.reason == "signature.malformed";
      EXPECT_EQ(malformed, in.answer == "wrong_key");
    }
    EXPECT_FALSE(r.certificate_id.empty());
    for (const auto& c : r.cases)
      if (r.outcome != metrology::Outcome::kNoResponse) {
        ASSERT_TRUE(c.evidence);
        EXPECT_EQ(c.evidence->source_topic, raw);
      }
  }
  // The refused responses, with their reasons, in the rejected stream.
  std::map<std::string, size_t> reasons;
  {
    std::ifstream in(dir / "rejected.jsonl");
    std::string line;
    while (std::getline(in, line)) reasons[json::parse(line)["reason"].get<std::string>()]++;
  }
  EXPECT_EQ(reasons["verification.unknown_request"], 1u);
  size_t duplicates = 0;  // a duplicating instrument answers each of its requests twice
  for (const auto& id : ids_with({"duplicate"}))
    duplicates += instruments.at(id).quantity == "temperature" ? 2 : 1;
  EXPECT_EQ(reasons["verification.duplicate_response"], duplicates);
  EXPECT_EQ(reasons["verification.late_response"], 1u);
  EXPECT_GE(reasons["signature.malformed"], ids_with({"wrong_key"}).size());
  // The snapshot names every instrument.
  size_t lines = 0;
  std::ifstream snap(dir / "register.jsonl");
  for (std::string l; std::getline(snap, l);) ++lines;
  EXPECT_EQ(lines, 41u);
}

}  // namespace
}  // namespace assay::kt
