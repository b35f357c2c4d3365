// Mutual TLS against the broker's SSL listener (client certificates made with openssl by
// scripts/kafka/broker.sh --tls): a valid client certificate works end to end; no certificate,
// or one not signed by the broker's CA, fails with a clear error in bounded time. Secrets
// (the key password from the environment, the key path) never appear in assay's output.
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

constexpr const char* kPassword = "s3cret-Pa55-for-assay-tls-test";

struct TlsRun {
  int rc = 0;
  double seconds = 0;
  std::string output;  // stderr + stdout
};

TlsRun run_tls(const fs::path& dir, const std::string& name, const PipelineSpec& spec) {
  write_text(dir / (name + ".yaml"), pipeline_yaml(spec));
  const auto t0 = Clock::now();
  TlsRun r;
  r.rc = run_to_end({assay_bin(), "run", (dir / (name + ".yaml")).string(), "--no-progress"}, dir, name,
                    180s, {{"ASSAY_TEST_KEY_PASSWORD", kPassword}});
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.output = read_text(dir / (name + ".err")) + read_text(dir / (name + ".out"));
  return r;
}

class KafkaTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kafka_dir().empty() || !fs::exists(kafka_dir() + "/bootstrap_tls"))
      GTEST_SKIP() << "no TLS listener on the Kafka test broker";
    dir_ = work_dir("tls");
    tls_ = fs::path(kafka_dir()) / "tls";
    // An encrypted copy of the client key: its password comes from the environment.
    enc_key_ = dir_ / "client-encrypted.key";
    const int rc = run_to_end({"/usr/bin/openssl", "pkey", "-in", (tls_ / "client.key").string(), "-aes256",
                               "-passout", "env:ASSAY_TEST_KEY_PASSWORD", "-out", enc_key_.string()},
                              dir_, "openssl", 30s, {{"ASSAY_TEST_KEY_PASSWORD", kPassword}});
    ASSERT_EQ(rc, 0) << read_text(dir_ / "openssl.err");
    spec_.brokers = bootstrap(/*tls=*/true);
    spec_.group = unique_name("tls-group");
    spec_.input = unique_name("tls-in");
    spec_.trusted = unique_name("tls-trusted");
    spec_.rejected = unique_name("tls-rejected");
    spec_.idle_timeout_ms = 4000;
  }
  std::string props(const std::string& cert, const std::string& key, bool password) const {
    std::string p = "security.protocol: ssl\nssl.ca.location: " + (tls_ / "ca.pem").string() + "\n";
    if (!cert.empty()) p += "ssl.certificate.location: " + cert + "\n";
    if (!key.empty()) p += "ssl.key.location: " + key + "\n";
    if (password) p += "ssl.key.password: ${ASSAY_TEST_KEY_PASSWORD}\n";
    return p;
  }
  void expect_no_secrets(const std::string& output) const {
    EXPECT_EQ(output.find(kPassword), std::string::npos) << "key password leaked:\n" << output;
    EXPECT_EQ(output.find(enc_key_.string()), std::string::npos) << "key path leaked:\n" << output;
  }
  fs::path dir_, tls_, enc_key_;
  PipelineSpec spec_;
};

TEST_F(KafkaTls, ValidClientCertificateWorksEndToEnd) {
  const Fleet fleet = simulated_fleet("tls-2000", {"--records", "2000", "--sensors", "20", "--seed", "5"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 0u);
  spec_.registry = fleet.registry().string();
  spec_.properties = props((tls_ / "client.pem").string(), enc_key_.string(), true);
  create_topic(spec_.input, 2);
  create_topic(spec_.trusted, 1);
  create_topic(spec_.rejected, 1);
  Producer prod(spec_.input);  // test input goes in over PLAINTEXT
  prod.produce(frames, 0, frames.size());
  ASSERT_TRUE(prod.flush());
  const auto expected = expected_readings(frames, prod.placements);

  const TlsRun r = run_tls(dir_, "valid", spec_);
  ASSERT_EQ(r.rc, 0) << r.output;
  const auto trusted = consume_all(spec_.trusted);
  const auto rejected = consume_all(spec_.rejected);
  const Accounting a = account(expected, {&trusted, &rejected});
  std::cout << "[ kafka ] TLS: " << a.expected << " readings -> " << trusted.size() << " trusted, "
            << rejected.size() << " rejected in " << r.seconds << " s\n";
  EXPECT_EQ(a.missing, 0u);
  EXPECT_EQ(a.duplicates, 0u);
  EXPECT_GT(trusted.size(), 0u);
  const auto ends = end_offsets(spec_.input);
  EXPECT_EQ(committed_offsets(spec_.group, spec_.input, static_cast<int>(ends.size())), ends);
  expect_no_secrets(r.output);
}

// The run must end non-zero with an error that says what happened, not hang or report success.
void expect_refused(const TlsRun& r, const std::string& topic) {
  EXPECT_EQ(r.rc, 1) << r.output;
  // What the run waits for: each sink's start-up probe (5 s, two sinks), the source's
  // idle_timeout_ms (4 s) and its last probe at stop (1 s). A source that never reached the
  // cluster has not joined its group, so it does not wait for an assignment (it waited 15 s
  // more until 2026-12: 29 s in all).
  EXPECT_LT(r.seconds, 24.0) << r.output;
  EXPECT_NE(r.output.find("could not reach the Kafka cluster for topic '" + topic + "'"), std::string::npos)
      << r.output;
  // librdkafka's own words for the refused handshake are passed on (SSL or a disconnect during
  // the handshake, depending on the TLS version: see docs/kafka-test-broker.md).
  const auto err = r.output.find("could not reach the Kafka cluster");
  ASSERT_NE(err, std::string::npos);
  const std::string msg = r.output.substr(err, r.output.find('\n', err) - err);
  EXPECT_NE(msg.find("last error: "), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("SSL") != std::string::npos || msg.find("ssl://") != std::string::npos) << msg;
}

TEST_F(KafkaTls, NoClientCertificateIsRefusedWithAClearError) {
  create_topic(spec_.input, 1);
  create_topic(spec_.trusted, 1);
  create_topic(spec_.rejected, 1);
  spec_.properties = props("", "", false);
  const TlsRun r = run_tls(dir_, "nocert", spec_);
  std::cout << "[ kafka ] TLS without a client certificate: exit " << r.rc << " after " << r.seconds << " s\n";
  expect_refused(r, spec_.input);
}

TEST_F(KafkaTls, RogueClientCertificateIsRefusedWithAClearError) {
  create_topic(spec_.input, 1);
  create_topic(spec_.trusted, 1);
  create_topic(spec_.rejected, 1);
  spec_.properties = props((tls_ / "rogue.pem").string(), (tls_ / "rogue.key").string(), false);
  const TlsRun r = run_tls(dir_, "rogue", spec_);
  std::cout << "[ kafka ] TLS with a certificate not signed by the CA: exit " << r.rc << " after "
            << r.seconds << " s\n";
  expect_refused(r, spec_.input);
}

TEST_F(KafkaTls, WrongKeyPasswordFailsWithoutEchoingSecrets) {
  create_topic(spec_.input, 1);
  create_topic(spec_.trusted, 1);
  create_topic(spec_.rejected, 1);
  spec_.properties = props((tls_ / "client.pem").string(), enc_key_.string(), false) +
                     "ssl.key.password: wrong-" + std::string(kPassword) + "\n";
  const TlsRun r = run_tls(dir_, "badpass", spec_);
  std::cout << "[ kafka ] TLS with a wrong key password: exit " << r.rc << " after " << r.seconds << " s\n";
  EXPECT_EQ(r.rc, 1) << r.output;
  EXPECT_LT(r.seconds, 60.0);
  EXPECT_EQ(r.output.find("wrong-" + std::string(kPassword)), std::string::npos) << r.output;
  expect_no_secrets(r.output);
}

}  // namespace
}  // namespace assay::kt
