#include "engine/signing_key.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "crypto/ed25519.hpp"
#include "engine/bytes.hpp"
#include "engine/config.hpp"

namespace assay::engine {
namespace {

std::array<uint8_t, 32> seed_of(uint8_t v) {
  std::array<uint8_t, 32> s{};
  s.fill(v);
  return s;
}

TEST(EngineKey, SignaturesVerifyAndTamperingIsDetected) {
  auto key = EngineKey::from_seed(seed_of(7));
  ASSERT_TRUE(key);
  EXPECT_EQ(key->key_id(), derive_engine_key_id(key->public_key()));
  EXPECT_EQ(key->key_id().rfind("engine-", 0), 0u);
  const std::string msg = "checkpoint bytes";
  const std::span<const uint8_t> m(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
  auto sig = key->sign(m);
  EXPECT_TRUE(verify_engine_signature(key->public_key(), m, sig));
  sig[5] ^= 1;
  EXPECT_FALSE(verify_engine_signature(key->public_key(), m, sig));
  auto other = EngineKey::from_seed(seed_of(8), "mine");
  EXPECT_EQ(other->key_id(), "mine");
  EXPECT_FALSE(verify_engine_signature(other->public_key(), m, key->sign(m)));
}

// The engine key signs through crypto::SigningKey (libsodium where it could be set up): its
// signatures must be RFC 8032's bytes, the same as OpenSSL's, from any thread.
TEST(EngineKey, SignaturesAreRfc8032BytesFromAnyThread) {
  // RFC 8032 section 7.1, TEST 1 (empty message).
  const auto seed_bytes =
      from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const auto pk = from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const auto sig = from_hex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
      "701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  ASSERT_TRUE(seed_bytes && pk && sig && seed_bytes->size() == 32);
  std::array<uint8_t, 32> seed{};
  std::copy(seed_bytes->begin(), seed_bytes->end(), seed.begin());
  auto key = EngineKey::from_seed(seed);
  ASSERT_TRUE(key);
  EXPECT_EQ(std::vector<uint8_t>(key->public_key().begin(), key->public_key().end()), *pk);
  const auto empty = key->sign({});
  EXPECT_EQ(std::vector<uint8_t>(empty.begin(), empty.end()), *sig);
  // Longer messages, signed on two threads at once, against OpenSSL's signature.
  std::vector<std::vector<uint8_t>> msgs;
  for (size_t i = 0; i < 64; ++i) msgs.emplace_back(i * 37 + 1, static_cast<uint8_t>(i));
  std::vector<std::array<uint8_t, 64>> sigs(msgs.size());
  auto sign_half = [&](size_t from) {
    for (size_t i = from; i < msgs.size(); i += 2) sigs[i] = key->sign(msgs[i]);
  };
  std::thread t0(sign_half, 0), t1(sign_half, 1);
  t0.join();
  t1.join();
  for (size_t i = 0; i < msgs.size(); ++i) {
    std::array<uint8_t, 64> want{};
    ASSERT_TRUE(crypto::ed25519_sign(seed.data(), msgs[i].data(), msgs[i].size(), want.data()));
    EXPECT_EQ(sigs[i], want) << "message " << i;
  }
}

TEST(EngineKey, LoadsPkcs8PemAndRefusesOtherFiles) {
  const auto dir = std::filesystem::temp_directory_path() / "assay_engine_key_test";
  std::filesystem::create_directories(dir);
  // RFC 8410 section 10.3 example private key.
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
      "-----END PRIVATE KEY-----\n";
  std::ofstream(dir / "k.pem") << pem;
  auto key = EngineKey::load((dir / "k.pem").string(), "k1");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->key_id(), "k1");
  const std::string msg = "x";
  const std::span<const uint8_t> m(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
  EXPECT_TRUE(verify_engine_signature(key->public_key(), m, key->sign(m)));
  std::ofstream(dir / "bad.pem") << "not a key\n";
  EXPECT_THROW(EngineKey::load((dir / "bad.pem").string()), ConfigError);
  EXPECT_THROW(EngineKey::load((dir / "missing.pem").string()), ConfigError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace assay::engine
