// The live instrument register: updated from batches (trusted and rejected counts, firmware
// seen vs approved, drift, last reading), joined with the registries (certificate in force,
// keys) and the campaigns (last result); the filters answer exactly the instruments they name,
// over the pipeline's HTTP endpoint too; the snapshot file holds every instrument.
#include "metrology/register.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "connectors/memory.hpp"
#include "engine/decode.hpp"
#include "engine/http_server.hpp"
#include "engine/metrics.hpp"
#include "metrology_util.hpp"

namespace assay::metrology {
namespace {

using namespace testing;
using json = nlohmann::json;

std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

std::set<std::string> ids_of(const json& page) {
  std::set<std::string> s;
  for (const auto& i : page["instruments"]) s.insert(i["id"].get<std::string>());
  return s;
}

class RegisterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fleet_ = new Fleet(make_fleet(40, 0.1, 400)); }
  static void TearDownTestSuite() { delete fleet_; }
  void SetUp() override {
    RegisterConfig cfg;
    cfg.identity = fleet_->identity;
    cfg.calibration = fleet_->calibration;
    cfg.trusted_endpoint = "kafka://broker:9092/readings.trusted";
    cfg.nameplate.markings.push_back({"M", "DE-M-PTB-0001"});
    now_ = kStart + kDay;
    cfg.clock = [now = now_] { return now; };
    reg_ = std::make_shared<InstrumentRegister>(std::move(cfg));
    reg_->refresh_certificates(now_);
  }
  // Feeds every simulated record; rows of `rejected_sensor` are rejected, one row of
  // `drifting` carries a drift alarm, and one forged row of `forged_target` (bad signature)
  // claims unapproved firmware. Returns readings per sensor.
  std::map<std::string, uint64_t> feed(const std::string& rejected_sensor,
                                       const std::string& drifting,
                                       const std::string& forged_target) {
    std::map<std::string, uint64_t> per;
    std::vector<std::vector<uint8_t>> frames = fleet_->frames;
    Answer forged;
    forged.sensor = forged_target;
    forged.request_id = "";
    forged.firmware.assign(32, 0xee);
    frames.push_back(response(forged));
    connectors::MemorySource src(frames);
    for (;;) {
      engine::Batch b;
      if (src.next(b, 64) != engine::SourceStatus::kBatch) break;
      engine::decode_batch(b);
      for (uint32_t r = 0; r < b.row_count(); ++r) {
        const wire::Reading* rd = b.row_reading[r];
        if (rd == nullptr) continue;
        const std::string id = rd->sensor_id()->str();
        per[id]++;
        const bool forged_row = rd->firmware_sha256() != nullptr &&
                                rd->firmware_sha256()->size() == 32 &&
                                rd->firmware_sha256()->Get(0) == 0xee;
        b.row_signature[r] = static_cast<uint8_t>(forged_row ? wire::SignatureVerdict::BadSignature
                                                             : wire::SignatureVerdict::Valid);
        if (forged_row) b.row_reject[r] = engine::RejectCode::kSignatureBad;
        if (id == rejected_sensor) b.row_reject[r] = engine::RejectCode::kCalOutOfTolerance;
        if (id == drifting) b.row_drift[r] = 3;
      }
      reg_->observe(b, now_);
    }
    return per;
  }
  json get(const std::string& target) {
    engine::HttpRequest req;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string rest = target.substr(q + 1);
      while (!rest.empty()) {
        const size_t amp = rest.find('&');
        const std::string item = rest.substr(0, amp);
        const size_t eq = item.find('=');
        req.query.emplace_back(item.substr(0, eq),
                               eq == std::string::npos ? "" : item.substr(eq + 1));
        rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
      }
    }
    const engine::HttpReply reply = reg_->handle(req);
    status_ = reply.status;
    return json::parse(reply.body);
  }
  static Fleet* fleet_;
  std::shared_ptr<InstrumentRegister> reg_;
  int64_t now_ = 0;
  int status_ = 0;
};
Fleet* RegisterTest::fleet_ = nullptr;

TEST_F(RegisterTest, CountsFirmwareAndCertificatesFollowTheStream) {
  EXPECT_EQ(reg_->size(), 40u);
  const std::string a = fleet_->temperature[0], b = fleet_->temperature[1];
  const auto per = feed(a, b, b);
  const json ja = json::parse(*reg_->instrument_json(a, now_));
  EXPECT_EQ(ja["trusted"].get<uint64_t>(), 0u);
  EXPECT_EQ(ja["rejected"].get<uint64_t>(), per.at(a));
  EXPECT_EQ(ja["last_reject_reason"], "calibration.out_of_tolerance");
  const json jb = json::parse(*reg_->instrument_json(b, now_));
  EXPECT_EQ(jb["trusted"].get<uint64_t>() + jb["rejected"].get<uint64_t>(), per.at(b));
  EXPECT_EQ(jb["rejected"].get<uint64_t>(), 1u) << "the forged reading counts as rejected";
  EXPECT_EQ(jb["firmware"]["status"], "approved") << "a forgery does not change what was seen";
  EXPECT_EQ(jb["drift"], "alarm");
  EXPECT_EQ(jb["calibration"]["status"], "in_force");
  EXPECT_FALSE(jb["calibration"]["certificate_id"].get<std::string>().empty());
  ASSERT_FALSE(jb["keys"].empty());
  EXPECT_EQ(jb["keys"][0]["alg"], "Ed25519");
  EXPECT_EQ(jb["keys"][0]["public_key"].get<std::string>().size(), 64u);
  EXPECT_NE(jb["last_reading_time"], nullptr);
  EXPECT_EQ(jb["firmware"]["approved"].size(), 3u);
  EXPECT_FALSE(reg_->instrument_json("urn:nobody", now_));
}

TEST_F(RegisterTest, FiltersAnswerExactlyTheInstrumentsTheyName) {
  const std::string a = fleet_->temperature[0], b = fleet_->temperature[1];
  feed("", b, "");
  // Calibration: the simulator's expired certificates (10 %) are not in force.
  json page = get("/register/instruments?calibration=missing&limit=100");
  EXPECT_EQ(status_, 200);
  EXPECT_EQ(page["matched"].get<size_t>(), 4u);
  for (const auto& i : page["instruments"]) EXPECT_EQ(i["calibration"]["status"], "none_in_force");
  // In force until start + 185 days (+ the simulated run): none within 30 days, all within 200.
  EXPECT_EQ(
      get("/register/instruments?calibration_expires_within_days=30")["matched"].get<size_t>(), 0u);
  EXPECT_EQ(
      get("/register/instruments?calibration_expires_within_days=200")["matched"].get<size_t>(),
      36u);
  // Verification results.
  Result failed;
  failed.instrument_id = a;
  failed.outcome = Outcome::kFailed;
  failed.reason = "out_of_tolerance";
  failed.result_id = "c/" + a;
  reg_->on_result(failed);
  page = get("/register/instruments?verification=failed");
  EXPECT_EQ(ids_of(page), (std::set<std::string>{a}));
  EXPECT_EQ(page["instruments"][0]["verification"]["reason"], "out_of_tolerance");
  EXPECT_EQ(get("/register/instruments?verification=never&limit=1000")["matched"].get<size_t>(),
            39u);
  EXPECT_EQ(get("/register/instruments?verification=passed")["matched"].get<size_t>(), 0u);
  EXPECT_EQ(ids_of(get("/register/instruments?drift=alarm")), (std::set<std::string>{b}));
  EXPECT_EQ(get("/register/instruments?drift=warning")["matched"].get<size_t>(), 1u);
  // Unapproved firmware, reported by the instrument itself (signature valid).
  engine::Batch batch;
  Answer flashed;
  flashed.sensor = a;
  flashed.firmware.assign(32, 0xab);
  connectors::MemorySource src({response(flashed)});
  ASSERT_EQ(src.next(batch, 8), engine::SourceStatus::kBatch);
  engine::decode_batch(batch);
  batch.row_signature[0] = static_cast<uint8_t>(wire::SignatureVerdict::Valid);
  reg_->observe(batch, now_);
  EXPECT_EQ(ids_of(get("/register/instruments?firmware=not_approved")), (std::set<std::string>{a}));
  // Combined filters, owner and paging.
  EXPECT_EQ(ids_of(get("/register/instruments?firmware=not_approved&verification=failed")),
            (std::set<std::string>{a}));
  const size_t plant1 =
      get("/register/instruments?owner=plant-1&limit=1000")["matched"].get<size_t>();
  EXPECT_GT(plant1, 0u);
  EXPECT_LT(plant1, 40u);
  std::set<std::string> all;
  std::string cursor = "0";
  for (int pages = 0; pages < 20; ++pages) {
    page = get("/register/instruments?limit=7&offset=" + cursor);
    for (const auto& id : ids_of(page)) all.insert(id);
    if (page["next_offset"].is_null()) break;
    cursor = std::to_string(page["next_offset"].get<size_t>());
  }
  EXPECT_EQ(all.size(), 40u);
  // Bad requests.
  get("/register/instruments?verification=maybe");
  EXPECT_EQ(status_, 400);
  get("/register/instruments?limit=0");
  EXPECT_EQ(status_, 400);
  get("/register/instruments?colour=red");
  EXPECT_EQ(status_, 400);
  get("/register/instrument?id=urn:nobody");
  EXPECT_EQ(status_, 404);
  get("/register/elsewhere");
  EXPECT_EQ(status_, 404);
  const json s = get("/register/summary");
  EXPECT_EQ(s["instruments"].get<size_t>(), 40u);
  EXPECT_EQ(s["verification"]["failed"].get<size_t>(), 1u);
  EXPECT_EQ(s["calibration"]["none_in_force"].get<size_t>(), 4u);
}

TEST_F(RegisterTest, ServedOnTheHttpEndpointAndExportedAsASnapshot) {
  const std::string a = fleet_->temperature[0];
  feed("", "", "");
  engine::Metrics metrics;
  engine::HttpServer http("127.0.0.1:0", metrics, nullptr, nullptr);
  std::string err;
  ASSERT_TRUE(http.start(&err)) << err;
  http.set_routes(reg_->http_routes());
  std::string r =
      http_get(http.port(), "/register/instruments?calibration_expires_within_days=200&limit=3");
  ASSERT_NE(r.find("200 OK"), std::string::npos) << r;
  EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos);
  const json page = json::parse(r.substr(r.find("\r\n\r\n") + 4));
  EXPECT_EQ(page["returned"].get<size_t>(), 3u);
  EXPECT_EQ(page["matched"].get<size_t>(), 36u);
  // Percent-encoded ids.
  std::string enc;
  for (char c : a) enc += c == ':' ? std::string("%3A") : std::string(1, c);
  r = http_get(http.port(), "/register/instrument?id=" + enc);
  ASSERT_NE(r.find("200 OK"), std::string::npos) << r;
  EXPECT_NE(r.find(a), std::string::npos);
  EXPECT_NE(http_get(http.port(), "/register/instrument?id=%zz").find("400"), std::string::npos);
  r = http_get(http.port(), "/register/aas?id=" + enc);
  ASSERT_NE(r.find("200 OK"), std::string::npos) << r;
  const json env = json::parse(r.substr(r.find("\r\n\r\n") + 4));
  EXPECT_EQ(env["assetAdministrationShells"][0]["assetInformation"]["globalAssetId"], a);
  EXPECT_EQ(env["submodels"].size(), 2u);
  EXPECT_NE(http_get(http.port(), "/metrics").find("200 OK"), std::string::npos)
      << "own endpoints stay";
  http.set_routes({});
  EXPECT_NE(http_get(http.port(), "/register/summary").find("404"), std::string::npos);
  http.stop();
  // The snapshot: a summary line, then one line per instrument.
  const fs::path snap = temp_dir("snap") / "register.jsonl";
  ASSERT_TRUE(reg_->write_snapshot(snap.string(), &err)) << err;
  std::ifstream in(snap);
  std::string line;
  size_t lines = 0;
  std::set<std::string> ids;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    if (lines++ == 0) {
      EXPECT_EQ(j["summary"]["instruments"].get<size_t>(), 40u);
      continue;
    }
    ids.insert(j["id"].get<std::string>());
  }
  EXPECT_EQ(lines, 41u);
  EXPECT_EQ(ids.size(), 40u);
  in.close();
  fs::remove_all(snap.parent_path());
}

}  // namespace
}  // namespace assay::metrology
