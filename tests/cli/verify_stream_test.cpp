// `assay verify-stream`, `assay prove`, `assay pubkey` through the real binary: a provenance
// pipeline run by `assay run`, its stream verified, tampered with, proved.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "../engine/records.hpp"
#include "connectors/framing.hpp"
#include "schemas/trusted_reading_generated.h"
#include "tests/cli/cli_util.hpp"

namespace {

using namespace assay;

namespace fs = std::filesystem;
using clitest::kAssay;
using clitest::Result;
using clitest::sh;

class VerifyStreamCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("assay-vs-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    ASSERT_EQ(sh(kAssay + " keygen --alg ed25519 --out " + (dir / "engine").string()).code, 0);
    connectors_write_input(400);
    std::ofstream(dir / "p.yaml") << "name: vs\ninput: {type: file, path: in.asy}\nroutes:\n"
                                     "  trusted: {type: file, path: trusted.asy, append: true}\n"
                                     "  rejected: {type: file, path: rejected.asy}\n"
                                     "  attestations: {type: file, path: att.asy, append: true}\n"
                                     "operators:\n  - {type: provenance, key: engine.key, "
                                     "checkpoint: {every_records: 64, every_ms: 600000}}\n";
    const Result run = sh(kAssay + " run " + (dir / "p.yaml").string());
    ASSERT_EQ(run.code, 0) << run.out;
    key = (dir / "engine.pub").string();
  }
  void TearDown() override { fs::remove_all(dir); }
  void connectors_write_input(int n) {
    assay::connectors::FrameWriter w;
    ASSERT_TRUE(w.open((dir / "in.asy").string()));
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(w.write(assay::testing::make_reading("urn:s:" + std::to_string(i % 5), i, i)));
    ASSERT_TRUE(w.close());
  }
  std::string streams() const {
    return " --trusted " + (dir / "trusted.asy").string() + " --attestations " +
           (dir / "att.asy").string();
  }
  fs::path dir;
  std::string key;
};

TEST_F(VerifyStreamCli, VerifiesAndNamesATamperedOffset) {
  Result r = sh(kAssay + " verify-stream" + streams() + " --public-key " + key);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("400 records in 1 chain(s), 7 checkpoint(s): VERIFIED"), std::string::npos)
      << r.out;
  // The hex public key printed by `assay pubkey` pins the same key.
  const Result pk = sh(kAssay + " pubkey " + (dir / "engine.key").string());
  ASSERT_EQ(pk.code, 0) << pk.out;
  const auto q = pk.out.find("public_key: \"");
  ASSERT_NE(q, std::string::npos) << pk.out;
  const std::string hex = pk.out.substr(q + 13, 64);
  r = sh(kAssay + " verify-stream" + streams() + " --public-key " + hex);
  EXPECT_EQ(r.code, 0) << r.out;

  auto recs = assay::connectors::read_frame_file((dir / "trusted.asy").string());
  ASSERT_EQ(recs.size(), 400u);
  auto& victim = recs[123];
  const auto* sb = assay::wire::GetTrustedReading(victim.data())->signed_bytes();
  victim[static_cast<size_t>(sb->data() - victim.data()) + 3] ^= 0x10;
  {
    assay::connectors::FrameWriter w;
    ASSERT_TRUE(w.open((dir / "trusted.asy").string()));
    for (const auto& rec : recs) ASSERT_TRUE(w.write(rec));
    ASSERT_TRUE(w.close());
  }
  r = sh(kAssay + " verify-stream" + streams() + " --public-key " + key);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("{\"finding\":\"record_altered\",\"stream\":\"trusted\",\"partition\":0,"
                       "\"offset\":123,"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("FAILED"), std::string::npos);
}

TEST_F(VerifyStreamCli, ProofRoundTripAndTamperedProof) {
  const Result p = sh(kAssay + " prove" + streams() + " --offset 77");
  ASSERT_EQ(p.code, 0) << p.out;
  std::ofstream(dir / "proof.json") << p.out;
  Result r = sh(kAssay + " verify-stream --proof " + (dir / "proof.json").string() +
                " --public-key " + key);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("VALID"), std::string::npos) << r.out;
  // Change one hex digit of the record inside the proof.
  std::string text = p.out;
  const auto at = text.find("\"record\":\"") + 10 + 200;
  text[at] = text[at] == '0' ? '1' : '0';
  std::ofstream(dir / "bad.json") << text;
  r = sh(kAssay + " verify-stream --proof " + (dir / "bad.json").string() + " --public-key " + key);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("INVALID"), std::string::npos) << r.out;
}

TEST_F(VerifyStreamCli, UsageErrorsExitTwo) {
  EXPECT_EQ(sh(kAssay + " verify-stream" + streams()).code, 2);          // no key
  EXPECT_EQ(sh(kAssay + " verify-stream --public-key " + key).code, 2);  // no stream
  EXPECT_EQ(sh(kAssay + " verify-stream" + streams() + " --public-key nothex").code, 2);
  EXPECT_EQ(sh(kAssay + " prove" + streams()).code, 2);  // no offset
  for (const char* c : {"verify-stream", "prove", "pubkey"}) {
    const Result r = sh(kAssay + " " + c + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("usage: assay"), std::string::npos) << c;
  }
}

}  // namespace
