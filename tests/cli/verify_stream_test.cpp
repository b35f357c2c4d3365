// `assay verify-stream`, `assay prove`, `assay pubkey` through the real binary: a provenance
// pipeline run by `assay run`, its stream verified, tampered with, proved; length prefixes that
// lie; a pipeline killed with SIGKILL and restarted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "../engine/records.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/framing.hpp"
#include "engine/provenance_chain.hpp"
#include "schemas/reading_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "tests/cli/cli_util.hpp"

namespace {

using namespace assay;

namespace fs = std::filesystem;
using clitest::count;
using clitest::kAssay;
using clitest::Result;
using clitest::sh;

// Runs `cmd` with /bin/sh; returns the exit code and the child's peak resident memory (MiB).
std::pair<int, double> run_measured(const std::string& cmd) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, static_cast<double>(ru.ru_maxrss) / 1024};
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class VerifyStreamCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("assay-vs-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    ASSERT_EQ(sh(kAssay + " keygen --alg ed25519 --out " + (dir / "engine").string()).code, 0);
    key = (dir / "engine.pub").string();
  }
  void TearDown() override { fs::remove_all(dir); }
  void write_input(int n, const std::string& name = "in.asy") {
    engine::FrameWriter w;
    ASSERT_TRUE(w.open((dir / name).string()));
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(w.write(assay::testing::make_reading("urn:s:" + std::to_string(i % 5), i, i)));
    ASSERT_TRUE(w.close());
  }
  void write_pipeline(const std::string& input_extra = "", int every = 64, int batch = 64,
                      bool audit = false) {
    std::ofstream(dir / "p.yaml")
        << "name: vs\ninput: {type: file, path: in.asy" << input_extra
        << "}\nroutes:\n"
           "  trusted: {type: file, path: trusted.asy, append: true}\n"
           "  rejected: {type: file, path: rejected.asy}\n"
           "  attestations: {type: file, path: att.asy, append: true}\n"
           "operators:\n  - {type: provenance, key: engine.key, "
           "checkpoint: {every_records: "
        << every << ", every_ms: 600000}}\n"
        << "engine: {batch_size: " << batch << "}\n"
        << (audit ? "audit: {file: audit.log, key: engine.key, fsync: false}\n" : "");
  }
  Result run() { return sh("cd " + dir.string() + " && " + kAssay + " run p.yaml --no-progress"); }
  std::string streams() const {
    return " --trusted " + (dir / "trusted.asy").string() + " --attestations " +
           (dir / "att.asy").string();
  }
  Result verify(const std::string& extra = "") {
    return sh(kAssay + " verify-stream" + streams() + " --public-key " + key + extra);
  }
  fs::path dir;
  std::string key;
};

class VerifyStreamRun : public VerifyStreamCli {
 protected:
  void SetUp() override {
    VerifyStreamCli::SetUp();
    write_input(400);
    write_pipeline();
    const Result r = run();
    ASSERT_EQ(r.code, 0) << r.out;
  }
};

TEST_F(VerifyStreamRun, VerifiesAndNamesATamperedOffset) {
  Result r = verify();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("400 records in 1 chain(s), 7 checkpoint(s): VERIFIED"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("0 unattested"), std::string::npos) << r.out;
  // The hex public key printed by `assay pubkey` pins the same key.
  const Result pk = sh(kAssay + " pubkey " + (dir / "engine.key").string());
  ASSERT_EQ(pk.code, 0) << pk.out;
  const auto q = pk.out.find("public_key: \"");
  ASSERT_NE(q, std::string::npos) << pk.out;
  const std::string hex = pk.out.substr(q + 13, 64);
  r = sh(kAssay + " verify-stream" + streams() + " --public-key " + hex);
  EXPECT_EQ(r.code, 0) << r.out;

  auto recs = engine::read_frame_file((dir / "trusted.asy").string());
  ASSERT_EQ(recs.size(), 400u);
  auto& victim = recs[123];
  const auto* sb = wire::GetTrustedReading(victim.data())->signed_bytes();
  victim[static_cast<size_t>(sb->data() - victim.data()) + 3] ^= 0x10;
  {
    engine::FrameWriter w;
    ASSERT_TRUE(w.open((dir / "trusted.asy").string()));
    for (const auto& rec : recs) ASSERT_TRUE(w.write(rec));
    ASSERT_TRUE(w.close());
  }
  r = verify();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("{\"finding\":\"record_altered\",\"stream\":\"trusted\",\"partition\":0,"
                       "\"offset\":123,"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("FAILED"), std::string::npos);
}

TEST_F(VerifyStreamRun, ProofRoundTripAndTamperedProofs) {
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
  // 13.7: an edited position names another record; it used to print VALID.
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"\"offset\":77", "\"offset\":78"},
        {"\"partition\":0", "\"partition\":1"}}) {
    std::string edited = p.out;
    ASSERT_NE(edited.find(from), std::string::npos);
    edited.replace(edited.find(from), from.size(), to);
    std::ofstream(dir / "moved.json") << edited;
    r = sh(kAssay + " verify-stream --proof " + (dir / "moved.json").string() + " --public-key " +
           key);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("INVALID"), std::string::npos) << r.out;
  }
  // A proof file that does not parse is a usage error (exit 2), not a failed verification.
  std::ofstream(dir / "junk.json") << "{\"nothing\": 1}";
  r = sh(kAssay + " verify-stream --proof " + (dir / "junk.json").string() + " --public-key " +
         key);
  EXPECT_EQ(r.code, 2) << r.out;
}

// `assay prove --sensor ID --seq N`: the proof of the record standing for that reading, naming
// it; verify-stream confirms the reading and refuses a proof whose seq was edited.
TEST_F(VerifyStreamRun, ProofOfAReadingBySensorAndSeq) {
  const Result p = sh(kAssay + " prove" + streams() + " --sensor urn:s:2 --seq 77");
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_NE(p.out.find("\"offset\":77,"), std::string::npos) << p.out;  // reading i is record i
  EXPECT_NE(p.out.find("\"reading_index\":0,\"reading_seq\":77"), std::string::npos) << p.out;
  std::ofstream(dir / "proof.json") << p.out;
  Result r = sh(kAssay + " verify-stream --proof " + (dir / "proof.json").string() +
                " --public-key " + key);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("reading urn:s:2 seq 77 (reading 0 of its input record) in proof of record "
                       "0:77"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("VALID"), std::string::npos) << r.out;
  std::string edited = p.out;
  edited.replace(edited.find("\"reading_seq\":77"), 17, "\"reading_seq\":78");
  std::ofstream(dir / "edited.json") << edited;
  r = sh(kAssay + " verify-stream --proof " + (dir / "edited.json").string() + " --public-key " +
         key);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("the proof names seq 78 but reading 0 of the record has seq 77"),
            std::string::npos)
      << r.out;
  // Another sensor's seq, and a seq the stream does not hold: nothing to prove.
  r = sh(kAssay + " prove" + streams() + " --sensor urn:s:3 --seq 77");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no trusted record stands for reading urn:s:3 seq 77"), std::string::npos)
      << r.out;
  EXPECT_EQ(sh(kAssay + " prove" + streams() + " --sensor urn:s:2 --seq 4000").code, 1);
  // --sensor needs --seq, and excludes --offset.
  EXPECT_EQ(sh(kAssay + " prove" + streams() + " --sensor urn:s:2").code, 2);
  EXPECT_EQ(sh(kAssay + " prove" + streams() + " --sensor urn:s:2 --seq 77 --offset 77").code, 2);
}

TEST_F(VerifyStreamRun, AnOpenTailIsCountedButNoCheckpointNeverVerifies) {
  // Without the final checkpoint: the tail is unattested, tolerated (and counted) with
  // --allow-open-tail.
  auto atts = engine::read_frame_file((dir / "att.asy").string());
  std::vector<std::vector<uint8_t>> kept;
  for (const auto& a : atts) {
    engine::Attestation x;
    std::string err;
    ASSERT_TRUE(engine::decode_attestation(a, &x, &err)) << err;
    if (!(x.kind == engine::AttestationKind::kCheckpoint && x.size == 400)) kept.push_back(a);
  }
  auto save = [&](const std::vector<std::vector<uint8_t>>& recs) {
    engine::FrameWriter w;
    ASSERT_TRUE(w.open((dir / "att.asy").string()));
    for (const auto& rec : recs) ASSERT_TRUE(w.write(rec));
    ASSERT_TRUE(w.close());
  };
  save(kept);
  Result r = verify();
  EXPECT_EQ(r.code, 1) << r.out;
  r = verify(" --allow-open-tail");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("16 unattested"), std::string::npos) << r.out;
  // 13.7: no checkpoint at all (a stream forged from scratch, or all attestations removed) is
  // never VERIFIED, --allow-open-tail or not, and the summary says how many records.
  save({});
  r = verify(" --allow-open-tail");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("400 unattested"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no valid checkpoint at all"), std::string::npos) << r.out;
}

TEST_F(VerifyStreamCli, UsageErrorsExitTwo) {
  write_input(10);
  write_pipeline();
  ASSERT_EQ(run().code, 0);
  EXPECT_EQ(sh(kAssay + " verify-stream" + streams()).code, 2);          // no key
  EXPECT_EQ(sh(kAssay + " verify-stream --public-key " + key).code, 2);  // no stream
  EXPECT_EQ(sh(kAssay + " verify-stream" + streams() + " --public-key nothex").code, 2);
  EXPECT_EQ(
      sh(kAssay + " verify-stream" + streams() + " --public-key " + key + " --min-witnesses 1")
          .code,
      2);  // more witnesses required than pinned
  EXPECT_EQ(
      sh(kAssay + " verify-stream" + streams() + " --public-key " + key + " --witness not-a-vkey")
          .code,
      2);
  EXPECT_EQ(sh(kAssay + " prove" + streams()).code, 2);  // no offset
  for (const char* c : {"verify-stream", "prove", "pubkey"}) {
    const Result r = sh(kAssay + " " + c + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("usage: assay"), std::string::npos) << c;
  }
}

TEST_F(VerifyStreamCli, V1StreamsStillVerify) {
  const fs::path v1 = fs::path(ASSAY_SOURCE_DIR) / "tests/data/provenance-v1";
  const Result r =
      sh(kAssay + " verify-stream --trusted " + (v1 / "trusted.asy").string() + " --attestations " +
         (v1 / "att.asy").string() + " --public-key " + (v1 / "engine.pub").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("299 records in 1 chain(s), 6 checkpoint(s): VERIFIED"), std::string::npos)
      << r.out;
  // The software that wrote them, as the records state it.
  EXPECT_NE(r.out.find("engine software: 0.1.0 (build a0ea7515d49d): 299 record(s)\n"),
            std::string::npos)
      << r.out;
}

TEST_F(VerifyStreamCli, PubkeyPrintsTheVerifierKeyOfEachLog) {
  const Result r = sh(kAssay + " pubkey " + (dir / "engine.key").string() +
                      " --origin assay/vs/0 --origin assay/vs/1");
  ASSERT_EQ(r.code, 0) << r.out;
  // Each: "NAME+8 hex digits+base64 of 33 bytes (type 0x01 then the key)".
  size_t found = 0;
  for (const std::string origin : {"assay/vs/0", "assay/vs/1"}) {
    const auto at = r.out.find("\"" + origin + "+");
    ASSERT_NE(at, std::string::npos) << r.out;
    const auto end = r.out.find('"', at + 1);
    const std::string vkey = r.out.substr(at + 1, end - at - 1);
    const std::string id = vkey.substr(origin.size() + 1, 8);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << vkey;
    EXPECT_EQ(vkey[origin.size() + 9], '+') << vkey;
    const std::string b64 = vkey.substr(origin.size() + 10);
    EXPECT_EQ(b64.size(), 44u) << vkey;
    EXPECT_EQ(b64[0], 'A') << vkey;  // 0x01: the top six bits are zero
    ++found;
  }
  EXPECT_EQ(found, 2u);
  EXPECT_EQ(sh(kAssay + " pubkey " + (dir / "engine.key").string() + " --origin 'a b'").code, 2);
}

TEST_F(VerifyStreamCli, LengthPrefixesAreNotTrusted) {
  // 13.2: an 8-byte file whose length prefix claims ~1 GiB used to make verify-stream, prove
  // and the `append: true` start-up check allocate what it claims.
  const std::string lie = std::string("\xf0\xff\xff\x3f", 4) + "abcd";
  std::ofstream(dir / "lie.asy", std::ios::binary) << lie;
  const std::string out = " > " + (dir / "out.txt").string() + " 2>&1";
  auto [code, mib] =
      run_measured(kAssay + " verify-stream --trusted " + (dir / "lie.asy").string() +
                   " --attestations " + (dir / "lie.asy").string() + " --public-key " + key + out);
  EXPECT_EQ(code, 1) << read_text(dir / "out.txt");
  EXPECT_LT(mib, 200.0);
  EXPECT_NE(read_text(dir / "out.txt").find("truncated frame at index 0"), std::string::npos)
      << read_text(dir / "out.txt");
  std::tie(code, mib) =
      run_measured(kAssay + " prove --trusted " + (dir / "lie.asy").string() + " --attestations " +
                   (dir / "lie.asy").string() + " --offset 0" + out);
  EXPECT_EQ(code, 1) << read_text(dir / "out.txt");
  EXPECT_LT(mib, 200.0);
  // As the trusted output of `append: true`: a torn frame, set aside at start.
  write_input(20);
  write_pipeline();
  fs::copy_file(dir / "lie.asy", dir / "trusted.asy");
  std::tie(code, mib) =
      run_measured("cd " + dir.string() + " && " + kAssay + " run p.yaml --no-progress" + out);
  EXPECT_EQ(code, 0) << read_text(dir / "out.txt");
  EXPECT_LT(mib, 200.0);
  EXPECT_EQ(verify().code, 0) << verify().out;
}

TEST_F(VerifyStreamCli, ATornFrameIsSetAsideAndAudited) {
  // 13.12: a half-written last frame used to stop `append: true` until cut by hand.
  write_input(100);
  write_pipeline("", 64, 64, true);
  ASSERT_EQ(run().code, 0);
  {
    std::ofstream t(dir / "trusted.asy", std::ios::binary | std::ios::app);
    t << std::string("\x00\x02\x00\x00", 4) << "half a frame";  // claims 512 bytes
  }
  write_input(130);
  write_pipeline(", start_offset: 100", 64, 64, true);
  const Result r = run();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("torn last frame set aside"), std::string::npos) << r.out;
  size_t torn = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("trusted.asy.torn-", 0) == 0) {
      EXPECT_EQ(fs::file_size(e.path()), 16u);
      ++torn;
    }
  EXPECT_EQ(torn, 1u);
  const Result a =
      sh(kAssay + " verify-audit " + (dir / "audit.log").string() + " --public-key " + key);
  EXPECT_EQ(a.code, 0) << a.out;
  EXPECT_NE(a.out.find("sink.torn_frame_recovered"), std::string::npos) << a.out;
  const Result v = verify();
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("130 records"), std::string::npos) << v.out;
}

// The readings (sensor, seq) of a trusted file, with how often each occurs.
std::map<std::pair<std::string, uint64_t>, int> readings_of(const fs::path& p) {
  std::map<std::pair<std::string, uint64_t>, int> out;
  for (const auto& r : engine::read_frame_file(p.string())) {
    const auto* t = wire::GetTrustedReading(r.data());
    ++out[{t->sensor_id()->str(), t->seq()}];
  }
  return out;
}

class Killed : public VerifyStreamCli {
 protected:
  // Starts `assay run` and kills it with SIGKILL once the trusted output holds `bytes`.
  void run_and_kill(uint64_t bytes) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (chdir(dir.c_str()) != 0) _exit(127);
      const int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl(kAssay.c_str(), "assay", "run", "p.yaml", "--no-progress", static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::error_code ec;
    while (std::chrono::steady_clock::now() < deadline) {
      if (fs::file_size(dir / "trusted.asy", ec) >= bytes && !ec) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the pipeline ended before it was killed";
  }
  // The offset the refusal names, from a restart over the same input.
  int64_t resume_offset() {
    const Result r = run();
    refusal = r.out;
    EXPECT_EQ(r.code, 1) << r.out;
    const auto at = r.out.find("start_offset: ");
    if (at == std::string::npos) {
      ADD_FAILURE() << r.out;
      return -1;
    }
    return std::stoll(r.out.substr(at + 14));
  }
  std::string refusal;  // the output of the refused restart
};

TEST_F(Killed, RestartsAfterSigkillWithoutLosingOrRepeatingAReading) {
  // 13.12 and 13.6: killed mid-run (SIGKILL), the pipeline restarts by itself: a torn last
  // frame is set aside, records written after the last signed head are set aside (not
  // attested), the restart over the same file is refused with the offset to resume at, and
  // resumed there every reading is in the stream exactly once.
  const int n = 120000;
  write_input(n);
  write_pipeline("", 1000, 64, true);
  run_and_kill(8u << 20);
  // Whatever the kill left, one more torn frame for certain.
  {
    std::ofstream t(dir / "trusted.asy", std::ios::binary | std::ios::app);
    t << std::string("\x40\x01\x00\x00", 4) << "torn";
  }
  const int64_t at = resume_offset();
  ASSERT_GT(at, 0);
  ASSERT_LT(at, n);
  write_pipeline(", start_offset: " + std::to_string(at), 1000, 64, true);
  const Result r = run();
  ASSERT_EQ(r.code, 0) << r.out;
  const Result v = verify();
  EXPECT_EQ(v.code, 0) << v.out;
  const auto got = readings_of(dir / "trusted.asy");
  EXPECT_EQ(got.size(), static_cast<size_t>(n));
  for (const auto& [k, c] : got) ASSERT_EQ(c, 1) << k.first << " " << k.second;
  const Result a =
      sh(kAssay + " verify-audit " + (dir / "audit.log").string() + " --public-key " + key);
  EXPECT_EQ(a.code, 0) << a.out;
}

TEST_F(Killed, ForgedRecordsReplacingTheCrashTailAreNotAttested) {
  // 13.6: after a crash, forged records replace the unattested tail (correctly chained, public
  // algorithm): the next start used to cover them with its checkpoint.
  const int n = 120000;
  write_input(n);
  write_pipeline("", 100000, 64);  // the kill lands before any checkpoint but the first few
  run_and_kill(4u << 20);
  auto recs = engine::read_frame_file((dir / "trusted.asy").string());
  ASSERT_GT(recs.size(), 100u);
  // Keep whole frames only, then forge the last 10 records.
  const size_t keep = recs.size() - 10;
  std::vector<std::vector<uint8_t>> forged;
  engine::ChainFields f;
  ASSERT_TRUE(engine::find_chain_fields(recs[keep - 1], &f));
  engine::Hash32 prev = engine::hash_at(recs[keep - 1], f.record_hash);
  for (size_t i = keep; i < recs.size(); ++i) {
    std::vector<uint8_t> r = recs[i];
    ASSERT_TRUE(engine::find_chain_fields(r, &f));
    const auto* sb = wire::GetTrustedReading(r.data())->signed_bytes();
    r[static_cast<size_t>(sb->data() - r.data()) + sb->size() / 2] ^= 0x5a;
    std::copy(prev.begin(), prev.end(), r.begin() + static_cast<long>(f.prev_hash));
    const engine::Hash32 h = engine::chain_hash_v2(i, prev, engine::record_leaf_v2(r, f));
    std::copy(h.begin(), h.end(), r.begin() + static_cast<long>(f.record_hash));
    forged.push_back(r);
    prev = h;
  }
  {
    engine::FrameWriter w;
    ASSERT_TRUE(w.open((dir / "trusted.asy").string()));
    for (size_t i = 0; i < keep; ++i) ASSERT_TRUE(w.write(recs[i]));
    for (const auto& r : forged) ASSERT_TRUE(w.write(r));
    ASSERT_TRUE(w.close());
  }
  const int64_t at = resume_offset();
  ASSERT_GT(at, 0);
  write_pipeline(", start_offset: " + std::to_string(at), 100000, 64);
  const Result r = run();
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(refusal.find("cannot prove it wrote"), std::string::npos) << refusal;
  for (const auto& rec : engine::read_frame_file((dir / "trusted.asy").string()))
    for (const auto& fg : forged) ASSERT_NE(rec, fg);
  const Result v = verify();
  EXPECT_EQ(v.code, 0) << v.out;
  const auto got = readings_of(dir / "trusted.asy");
  EXPECT_EQ(got.size(), static_cast<size_t>(n));
  for (const auto& [k, c] : got) ASSERT_EQ(c, 1) << k.first << " " << k.second;
}

}  // namespace
