// Multi-buffer SHA-256 (intel-ipsec-mb) agrees with OpenSSL for every message length class.
#include "crypto/sha256_many.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

#include "crypto/cpu.hpp"

namespace assay::crypto {
namespace {

TEST(Sha256Many, MatchesOpenSslForManyLengths) {
  std::mt19937_64 rng(5);
  std::vector<std::vector<uint8_t>> data;
  for (size_t len : {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 651, 1000, 4096})
    for (int k = 0; k < 7; ++k) {
      std::vector<uint8_t> m(len + static_cast<size_t>(k) * (len > 0 ? 1 : 0));
      for (auto& b : m) b = static_cast<uint8_t>(rng());
      data.push_back(std::move(m));
    }
  std::vector<std::span<const uint8_t>> msgs(data.begin(), data.end());
  std::vector<std::array<uint8_t, 32>> got(msgs.size());
  sha256_many(msgs, got);
  for (size_t i = 0; i < msgs.size(); ++i) {
    std::array<uint8_t, 32> want{};
    unsigned int n = 0;
    EVP_Digest(msgs[i].data(), msgs[i].size(), want.data(), &n, EVP_sha256(), nullptr);
    EXPECT_EQ(got[i], want) << "message " << i << " of " << msgs[i].size() << " bytes";
  }
  // One message, and none.
  std::vector<std::array<uint8_t, 32>> one(1);
  sha256_many(std::span(msgs).subspan(0, 1), one);
  EXPECT_EQ(one[0], got[0]);
  sha256_many({}, {});
}

// Every count from 1 to 70: below 64 messages and at or above it, different lanes may run
// (SHA-NI lanes, or 16 AVX-512 lanes for 64 or more); the digests are the same.
TEST(Sha256Many, EveryCountAroundTheLaneSwitchMatchesOpenSsl) {
  std::mt19937_64 rng(11);
  std::vector<std::vector<uint8_t>> data(70);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i].resize(65 + (i * 37) % 700);
    for (auto& b : data[i]) b = static_cast<uint8_t>(rng());
  }
  std::vector<std::array<uint8_t, 32>> want(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    unsigned int n = 0;
    EVP_Digest(data[i].data(), data[i].size(), want[i].data(), &n, EVP_sha256(), nullptr);
  }
  const std::vector<std::span<const uint8_t>> msgs(data.begin(), data.end());
  for (size_t count = 1; count <= msgs.size(); ++count) {
    std::vector<std::array<uint8_t, 32>> got(count);
    sha256_many(std::span(msgs).subspan(0, count), got);
    for (size_t i = 0; i < count; ++i)
      ASSERT_EQ(got[i], want[i]) << "message " << i << " of " << count;
  }
}

// The pairwise form: every pairing of length classes, equal and unequal, in both orders, and
// the same message twice.
TEST(Sha256Many, TwoAtOnceMatchesOpenSsl) {
  std::mt19937_64 rng(9);
  std::vector<std::vector<uint8_t>> data;
  for (size_t len : {0, 1, 33, 55, 56, 63, 64, 65, 651, 683, 720, 753, 5000}) {
    std::vector<uint8_t> m(len);
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    data.push_back(std::move(m));
  }
  auto reference = [](const std::vector<uint8_t>& m) {
    std::array<uint8_t, 32> want{};
    unsigned int n = 0;
    EVP_Digest(m.data(), m.size(), want.data(), &n, EVP_sha256(), nullptr);
    return want;
  };
  for (const auto& a : data) {
    for (const auto& b : data) {
      std::array<uint8_t, 32> da{}, db{};
      sha256_two(a, b, da, db);
      EXPECT_EQ(da, reference(a)) << a.size() << " with " << b.size();
      EXPECT_EQ(db, reference(b)) << b.size() << " with " << a.size();
    }
  }
  std::array<uint8_t, 32> d1{}, d2{};
  sha256_two(data[8], data[8], d1, d2);
  EXPECT_EQ(d1, reference(data[8]));
  EXPECT_EQ(d2, reference(data[8]));
  // Where the CPU has SHA extensions the two-lane path must be the one in use.
  if (cpu_features().sha_ni) {
    EXPECT_TRUE(sha256_two_interleaved());
  }
}

}  // namespace
}  // namespace assay::crypto
