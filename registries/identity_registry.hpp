#pragma once
/// \file The sensor identity registry (PAS 7040 (c), (f)): sensor_id -> keys (with validity
/// windows and revocation), approved firmware, measuring range, owner, redundancy group.
/// A registry is an immutable snapshot; live updates replace the snapshot atomically.
/// Entries with bad keys are refused at load time with a located message; the rest loads.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/ecdsa.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "crypto/hmac_sha256.hpp"
#include "engine/config.hpp"
#include "schemas/common_generated.h"

namespace assay::registries {

/// Recent verification outcomes of a key, shared by every snapshot of the registry. A key
/// with strikes is suspect: its signatures are verified one at a time so that a forger
/// cannot make batches of honest signatures fail (see verify_signature).
struct KeyHealth {
  std::atomic<int32_t> strikes{0};
  /// Earliest time (monotonic ns) the next one-at-a-time verification of a suspect key is
  /// within its budget (generic cell rate algorithm).
  std::atomic<int64_t> budget_tat_ns{0};
};

/// One signing key of a sensor.
struct SensorKey {
  std::string key_id;
  std::string sensor_id;
  wire::SignatureAlg alg = wire::SignatureAlg::Ed25519;
  std::array<uint8_t, 32> ed25519{};                 ///< Ed25519 public key
  std::optional<crypto::EcdsaP256PublicKey> ecdsa;   ///< ECDSA P-256 public key
  /// Any ECDSA key (P-256, P-384, brainpoolP256r1/P384r1), for the algorithms other than
  /// EcdsaP256Sha256 (set for P-256 keys too).
  std::optional<crypto::EcdsaPublicKey> ec;
  std::optional<crypto::HmacSha256Key> hmac;         ///< HMAC secret (never logged)
  int64_t valid_from_ns = INT64_MIN;
  int64_t valid_until_ns = INT64_MAX;
  bool revoked = false;
  std::shared_ptr<KeyHealth> health = std::make_shared<KeyHealth>();
};

/// What the registry knows about a sensor.
struct SensorInfo {
  std::string sensor_id;
  std::string owner;
  std::string redundancy_group;
  std::string quantity;
  std::string unit;
  std::optional<double> range_min, range_max;
  std::vector<std::array<uint8_t, 32>> approved_firmware;
  std::vector<std::string> key_ids;
};

/// Transparent string hash for heterogeneous lookup by string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// An immutable registry snapshot.
class IdentityRegistry {
 public:
  /// The key with this id, or nullptr.
  const SensorKey* find_key(std::string_view key_id) const;
  /// The sensor with this id, or nullptr.
  const SensorInfo* find_sensor(std::string_view sensor_id) const;
  size_t sensor_count() const { return sensors_.size(); }
  /// Calls f(const SensorInfo&) for every sensor (in no particular order).
  template <class F>
  void for_each_sensor(F&& f) const {
    for (const auto& [id, s] : sensors_) f(s);
  }
  size_t key_count() const { return keys_.size(); }

  /// Adds (or replaces) a sensor and its keys; used by loaders.
  void put(SensorInfo sensor, std::vector<SensorKey> keys);
  /// Removes a sensor and its keys (a tombstone on the registry topic).
  void erase(std::string_view sensor_id);

 private:
  std::unordered_map<std::string, SensorInfo, StringHash, std::equal_to<>> sensors_;
  std::unordered_map<std::string, SensorKey, StringHash, std::equal_to<>> keys_;
};

/// Outcome of loading a registry file.
struct RegistryLoadReport {
  size_t sensors = 0;
  size_t keys = 0;
  /// One located message per refused entry ("file:line:col: key '...': ...").
  std::vector<std::string> refused;
};

/// One parsed registry entry: a sensor and the keys that loaded.
struct SensorEntry {
  SensorInfo sensor;
  std::vector<SensorKey> keys;
};

/// Parses one entry of `sensors:` (the same format is the value of a registry-topic message).
/// Bad keys are refused into `report.refused` and the sensor still loads; throws
/// engine::ConfigError if the sensor itself is unusable.
SensorEntry parse_sensor_entry(const engine::ConfigNode& entry, RegistryLoadReport& report);

/// Loads a registry from a YAML or JSON file. Throws engine::ConfigError if the file cannot
/// be read or parsed at all; refuses (and reports) individual bad entries.
std::shared_ptr<const IdentityRegistry> load_identity_registry(const std::string& path,
                                                               RegistryLoadReport& report);

}  // namespace assay::registries
