// Bad DCC input: each refused with the file, the XML path and the reason, never crashing,
// never fetching anything; the rest of the registry loads; every refusal reaches the store's
// refusal path (alert queue, on_refused = metric and audit event).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "registries/certificate_sources.hpp"
#include "registries/dcc.hpp"
#include "tests/registries/dcc_util.hpp"

namespace {

using namespace assay;
using namespace assay::testing;
using registries::CertRefusal;

registries::DccOutcome import_file(const std::string& rel, const registries::TrustList& trust,
                                   const registries::IdentityRegistry* ids = nullptr) {
  return registries::import_dcc(slurp(dcc_data(rel)), rel, trust, ids);
}

void expect_refused(const registries::DccOutcome& o, CertRefusal why, const std::string& where,
                    const std::string& path, const std::string& reason) {
  ASSERT_TRUE(o.refused) << where;
  EXPECT_FALSE(o.import);
  EXPECT_EQ(o.refused->reason, why) << o.refused->message;
  const std::string& m = o.refused->message;
  EXPECT_EQ(m.rfind(where, 0), 0u) << m;  // starts with the file
  EXPECT_NE(m.find(path), std::string::npos) << "path " << path << " not in: " << m;
  EXPECT_NE(m.find(reason), std::string::npos) << "reason " << reason << " not in: " << m;
}

// Watches a file for any open or read (inotify).
struct OpenWatch {
  int fd = -1;
  explicit OpenWatch(const std::string& path) {
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    inotify_add_watch(fd, path.c_str(), IN_OPEN | IN_ACCESS);
  }
  ~OpenWatch() { ::close(fd); }
  bool touched() const {
    char buf[4096];
    return ::read(fd, buf, sizeof buf) > 0;
  }
};

// A listening TCP socket on 127.0.0.1 that must never see a connection.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  bool connected() const {
    const int c = ::accept(fd, nullptr, nullptr);
    if (c >= 0) ::close(c);
    return c >= 0;
  }
};

class DccBadInput : public ::testing::Test {
 protected:
  DccBadInput() : dir_("bad") { trust_ = load_trust(dir_, {test_lab()}); }
  TempDir dir_;
  std::shared_ptr<const registries::TrustList> trust_;
};

TEST_F(DccBadInput, TheGoodDocumentOfTheseTestsLoads) {
  const auto o = import_file("bad/good.xml", *trust_);
  ASSERT_FALSE(o.refused) << o.refused->message;
}

TEST_F(DccBadInput, EntityExpansionIsRefusedAtTheDoctype) {
  std::string bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n";
  bomb += " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n";
  for (int i = 2; i <= 9; ++i)
    bomb += " <!ENTITY lol" + std::to_string(i) + " \"" + [&] {
      std::string s;
      for (int k = 0; k < 10; ++k) s += "&lol" + std::to_string(i - 1) + ";";
      return s;
    }() + "\">\n";
  bomb +=
      "]>\n<dcc:digitalCalibrationCertificate xmlns:dcc=\"https://ptb.de/dcc\">&lol9;"
      "</dcc:digitalCalibrationCertificate>\n";
  const auto t0 = std::chrono::steady_clock::now();
  const auto o = registries::import_dcc(bomb, "bomb.xml", *trust_);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  expect_refused(o, CertRefusal::kInvalid, "bomb.xml:2", "/", "DOCTYPE is not allowed");
  EXPECT_LT(s, 1.0);  // refused before any expansion (a billion "lol"s would take far longer)
}

TEST_F(DccBadInput, ExternalEntitiesAreNeverResolvedNorFetched) {
  const std::string secret = dir_ / "secret.txt";
  spit(secret, "a secret that must not be read\n");
  OpenWatch watch(secret);
  Listener http;
  for (const std::string& sys :
       {"file://" + secret, "http://127.0.0.1:" + std::to_string(http.port) + "/x.dtd"}) {
    const std::string xml =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE d [ <!ENTITY ext SYSTEM \"" + sys +
        "\"> ]>\n<dcc:digitalCalibrationCertificate "
        "xmlns:dcc=\"https://ptb.de/dcc\">&ext;</dcc:digitalCalibrationCertificate>";
    expect_refused(registries::import_dcc(xml, "xxe.xml", *trust_), CertRefusal::kInvalid,
                   "xxe.xml:", "/", "DOCTYPE is not allowed");
    // An external DTD subset without an internal one.
    const std::string xml2 = "<?xml version=\"1.0\"?>\n<!DOCTYPE d SYSTEM \"" + sys +
                             "\">\n<dcc:digitalCalibrationCertificate "
                             "xmlns:dcc=\"https://ptb.de/dcc\"/>";
    expect_refused(registries::import_dcc(xml2, "xxe2.xml", *trust_), CertRefusal::kInvalid,
                   "xxe2.xml:", "/", "DOCTYPE is not allowed");
  }
  EXPECT_FALSE(watch.touched()) << "the file:// entity was opened";
  EXPECT_FALSE(http.connected()) << "the http:// entity was fetched";
}

TEST_F(DccBadInput, SignatureReferencesToExternalUrisAreRefusedAndNeverFetched) {
  // A document validly signed (by xmlsec1) with a second reference to a local file.
  const std::string ext = "/tmp/assay-dcc-external-reference.xml";
  spit(ext, "<external/>\n");
  OpenWatch watch(ext);
  expect_refused(import_file("bad/external-reference-file.xml", *trust_),
                 CertRefusal::kBadSignature, "bad/external-reference-file.xml:",
                 "/dcc:digitalCalibrationCertificate/ds:Signature/ds:SignedInfo/ds:Reference[2]",
                 "is not in this document");
  EXPECT_FALSE(watch.touched()) << "the referenced file was opened";
  std::filesystem::remove(ext);
  Listener http;
  std::string xml = slurp(dcc_data("bad/external-reference-http.xml"));
  xml.replace(xml.find("PORT"), 4, std::to_string(http.port));
  expect_refused(registries::import_dcc(xml, "http-ref.xml", *trust_), CertRefusal::kBadSignature,
                 "http-ref.xml:", "ds:Reference[2]", "http://127.0.0.1:");
  EXPECT_FALSE(http.connected()) << "the referenced URL was fetched";
}

TEST_F(DccBadInput, HugeDocumentsAreRefusedUnparsed) {
  std::string huge = slurp(dcc_data("bad/good.xml"));
  const size_t at = huge.find("<dcc:administrativeData>");
  huge.insert(at, "<!--" + std::string(registries::kDccMaxBytes, 'x') + "-->");
  expect_refused(registries::import_dcc(huge, "huge.xml", *trust_), CertRefusal::kInvalid,
                 "huge.xml", "/", "larger than the limit");
  // Deep nesting within the size limit: libxml2's depth limit refuses it.
  std::string deep = "<dcc:digitalCalibrationCertificate xmlns:dcc=\"https://ptb.de/dcc\">";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  expect_refused(registries::import_dcc(deep, "deep.xml", *trust_), CertRefusal::kInvalid,
                 "deep.xml", "/", "malformed XML");
}

TEST_F(DccBadInput, MalformedXmlIsRefusedWithItsLine) {
  std::string xml = slurp(dcc_data("bad/good.xml"));
  xml.resize(xml.size() / 2);
  expect_refused(registries::import_dcc(xml, "cut.xml", *trust_), CertRefusal::kInvalid,
                 "cut.xml:", "/", "malformed XML");
  expect_refused(registries::import_dcc("<a><b></a>", "x.xml", *trust_), CertRefusal::kInvalid,
                 "x.xml:1", "/", "malformed XML");
}

TEST_F(DccBadInput, WrongNamespacesAreRefused) {
  expect_refused(import_file("bad/wrong-namespace.xml", *trust_), CertRefusal::kInvalid,
                 "bad/wrong-namespace.xml:2", "/dcc:digitalCalibrationCertificate",
                 "{https://dfm.dk}digitalCalibrationCertificate, not "
                 "{https://ptb.de/dcc}digitalCalibrationCertificate");
}

TEST_F(DccBadInput, MissingMandatoryElementsAreRefusedWithTheirPath) {
  expect_refused(import_file("bad/no-unique-identifier.xml", *trust_), CertRefusal::kInvalid,
                 "bad/no-unique-identifier.xml:", "/dcc:administrativeData/dcc:coreData",
                 "missing dcc:uniqueIdentifier");
  expect_refused(import_file("bad/no-recalibration.xml", *trust_), CertRefusal::kInvalid,
                 "bad/no-recalibration.xml:", "/dcc:administrativeData/dcc:statements",
                 "basic_recalibration");
  expect_refused(import_file("bad/no-uncertainty.xml", *trust_), CertRefusal::kInvalid,
                 "bad/no-uncertainty.xml:", "/dcc:measurementResults/dcc:measurementResult",
                 "no uncertainty stated");
  expect_refused(import_file("bad/no-sensor-id.xml", *trust_), CertRefusal::kInvalid,
                 "bad/no-sensor-id.xml:", "/dcc:items/dcc:item/dcc:identifications",
                 "no item identification names the sensor");
  expect_refused(import_file("bad/two-tables.xml", *trust_), CertRefusal::kInvalid,
                 "bad/two-tables.xml:", "dcc:result[2]", "a second calibration table");
  expect_refused(import_file("bad/multivariate.xml", *trust_), CertRefusal::kInvalid,
                 "bad/multivariate.xml:", "si:ellipsoidalRegionXMLList", "multivariate");
}

TEST_F(DccBadInput, UnitsThatDoNotMatchTheSensorsAreRefused) {
  registries::IdentityRegistry ids;
  registries::SensorInfo s;
  s.sensor_id = "urn:assay:test:sensor:pascal";
  s.unit = "Cel";
  ids.put(s, {});
  s.sensor_id = "urn:assay:test:sensor:good";
  s.unit = "Pa";
  ids.put(s, {});
  expect_refused(import_file("bad/pascal-table.xml", *trust_, &ids), CertRefusal::kInvalid,
                 "bad/pascal-table.xml:", "dcc:quantity[1]/si:realListXMLList",
                 "unit mismatch: no value in a unit of the sensor's (Cel, temperature)");
  expect_refused(import_file("bad/good.xml", *trust_, &ids), CertRefusal::kInvalid,
                 "bad/good.xml:", "dcc:quantity[1]", "unit mismatch");
  // The same documents load for sensors whose units match (kPa converts from pascal).
  registries::IdentityRegistry ok;
  s.sensor_id = "urn:assay:test:sensor:pascal";
  s.unit = "kPa";
  ok.put(s, {});
  const auto o = import_file("bad/pascal-table.xml", *trust_, &ok);
  ASSERT_FALSE(o.refused) << o.refused->message;
  EXPECT_EQ(o.import->cert.unit, "kPa");
  EXPECT_NEAR(o.import->cert.range_max, 101.0, 1e-12);
  EXPECT_NEAR(o.import->cert.expanded_uncertainty, 0.004, 1e-12);  // 4 Pa
}

TEST_F(DccBadInput, SignatureProblemsAreRefused) {
  expect_refused(import_file("bad/signature-of-another-document.xml", *trust_),
                 CertRefusal::kBadSignature, "bad/signature-of-another-document.xml:",
                 "/dcc:digitalCalibrationCertificate/ds:Signature", "does not verify");
  expect_refused(import_file("bad/unsigned.xml", *trust_), CertRefusal::kUnsigned,
                 "bad/unsigned.xml:", "/dcc:digitalCalibrationCertificate", "unsigned");
  expect_refused(import_file("bad/other-lab.xml", *trust_), CertRefusal::kUntrustedLab,
                 "bad/other-lab.xml:", "ds:X509Certificate", "not in the trust list");
  expect_refused(import_file("bad/lab-code-mismatch.xml", *trust_), CertRefusal::kUntrustedLab,
                 "bad/lab-code-mismatch.xml:", "dcc:calibrationLaboratoryCode",
                 "'D-K-11111-01' is not lab 'D-K-99999-01'");
  // Two signatures (a wrapping attempt): the document's own plus a copy.
  std::string xml = slurp(dcc_data("bad/good.xml"));
  const std::string sig = xml.substr(xml.find("<ds:Signature"),
                                     xml.find("</ds:Signature>") + 15 - xml.find("<ds:Signature"));
  xml.insert(xml.find("<dcc:administrativeData>"), sig);
  expect_refused(registries::import_dcc(xml, "two.xml", *trust_), CertRefusal::kBadSignature,
                 "two.xml:", "ds:Signature", "more than one ds:Signature");
}

TEST_F(DccBadInput, ADirectoryLoadsItsGoodCertificatesAndRefusesTheRest) {
  TempDir d("bad-dir");
  for (const auto& e : std::filesystem::directory_iterator(dcc_data("bad")))
    std::filesystem::copy_file(e.path(), d.path / e.path().filename());
  for (const auto& e : std::filesystem::directory_iterator(dcc_data("forms")))
    std::filesystem::copy_file(e.path(), d.path / e.path().filename());
  spit(d / "garbage.xml", "<not-closed");
  spit(d / "notes.txt", "ignored: not a certificate file name");
  registries::CertificatesLoadReport report;
  const auto certs = registries::load_certificates_file(d.path.string(), *trust_, report);
  // good.xml, pascal-table.xml and the 13 form documents load; every other file is refused.
  EXPECT_EQ(certs.size(), 15u);
  EXPECT_EQ(report.loaded, 15u);
  size_t bad_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dcc_data("bad")))
    bad_files += e.path().extension() == ".xml";
  EXPECT_EQ(report.refused.size(), bad_files - 2 + 1);
  for (const auto& r : report.refused)
    EXPECT_EQ(r.message.rfind(d.path.string() + "/", 0), 0u) << r.message;
}

TEST_F(DccBadInput, TheStoreQueuesEveryRefusalAndCallsOnRefused) {
  TempDir d("bad-store");
  std::filesystem::create_directories(d.path / "certs");
  std::filesystem::copy_file(dcc_data("bad/good.xml"), d.path / "certs/good.xml");
  std::filesystem::copy_file(dcc_data("bad/unsigned.xml"), d.path / "certs/unsigned.xml");
  std::filesystem::copy_file(dcc_data("bad/other-lab.xml"), d.path / "certs/other-lab.xml");
  spit(d / "labs.yaml", trust_yaml({test_lab()}));
  std::atomic<int> seen{0};
  registries::CalibrationStoreConfig cfg;
  cfg.certificates_path = d / "certs";
  cfg.trust_path = d / "labs.yaml";
  cfg.reload_interval_ms = 0;
  cfg.on_refused = [&](const registries::RefusedCertificate&) { seen.fetch_add(1); };
  registries::CalibrationStore store(cfg);
  EXPECT_EQ(store.snapshot()->certificate_count(), 1u);
  EXPECT_EQ(seen.load(), 2);
  const auto refusals = store.take_refusals();
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].reason, CertRefusal::kUntrustedLab);  // other-lab.xml (name order)
  EXPECT_EQ(refusals[1].reason, CertRefusal::kUnsigned);
  // The directory's stamp changes when a file is rewritten, and a reload re-checks it.
  const int64_t before = registries::certificates_stamp(d / "certs");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::filesystem::copy_file(dcc_data("forms/real-expandedUnc.xml"), d.path / "certs/unsigned.xml",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(registries::certificates_stamp(d / "certs"), before);
  ASSERT_TRUE(store.reload_files());
  EXPECT_EQ(store.snapshot()->certificate_count(), 2u);
  EXPECT_NE(registries::certificates_sha256_hex(d / "certs"), "");
}

}  // namespace
