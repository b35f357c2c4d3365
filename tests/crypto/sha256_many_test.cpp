// Multi-buffer SHA-256 (intel-ipsec-mb) agrees with OpenSSL for every message length class.
#include "crypto/sha256_many.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

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

}  // namespace
}  // namespace assay::crypto
