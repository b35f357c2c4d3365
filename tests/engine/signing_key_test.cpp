#include "engine/signing_key.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

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
