#pragma once
/// \file The calibration registry (PAS 7040 (a), (b)): calibration certificates per sensor,
/// each signed by a calibration laboratory whose key is in a configured trust list.
///
/// Certificates come from a YAML or JSON file (the format `registries::to_yaml` writes) and,
/// optionally, from a compacted Kafka topic (key = certificate_id, value = one certificate,
/// empty value = remove it). A certificate that is unsigned, badly signed, signed by a key
/// that is not in the trust list, or invalid (missing field, negative or non-finite
/// uncertainty, coverage factor <= 0, valid_until before valid_from, range_min > range_max,
/// non-finite numbers) is refused on its own with a located reason; the rest loads.
///
/// A `CalibrationRegistry` is an immutable snapshot; `CalibrationStore` (a pipeline service)
/// keeps the live one (file polling + topic) and publishes each new snapshot atomically. See
/// docs/calibration.md.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "connectors/compacted_topic.hpp"
#include "engine/config.hpp"
#include "engine/snapshot_cell.hpp"
#include "registries/calibration_certificate.hpp"
#include "registries/identity_registry.hpp"
#include "registries/live_source.hpp"

namespace assay::registries {

/// An X.509 public key loaded for XMLDSig verification of DCC documents (defined in dcc.cpp).
struct DccVerifyKey;

/// One signing key of a calibration laboratory (an entry of the trust list).
struct LabKey {
  std::string lab_id;
  std::string key_id;
  std::string alg = "Ed25519";  ///< "Ed25519" (YAML certificates) or "X509" (DCC signatures)
  /// Ed25519: the public key. X509: SHA-256 of the certificate (its fingerprint), so that a
  /// replaced certificate withdraws what it verified, as a replaced Ed25519 key does.
  std::array<uint8_t, 32> public_key{};
  int64_t valid_from_ns = INT64_MIN;   ///< certificates issued before this are not trusted
  int64_t valid_until_ns = INT64_MAX;  ///< ... nor those issued after this
  bool revoked = false;
  // alg X509 only:
  std::vector<uint8_t> x509_der;           ///< the lab's X.509 certificate (DER)
  std::string x509_subject;                ///< its subject (RFC 2253)
  int64_t x509_not_before_ns = INT64_MIN;  ///< its validity
  int64_t x509_not_after_ns = INT64_MAX;
  std::shared_ptr<const DccVerifyKey> dcc_key;  ///< its public key for xmlsec
};

/// The trust list: calibration-lab keys by key id. Immutable once loaded.
class TrustList {
 public:
  /// The key with this id, or nullptr.
  const LabKey* find(std::string_view key_id) const;
  /// The X.509 (alg X509) key whose certificate has this SHA-256 fingerprint, or nullptr.
  const LabKey* find_x509(const std::array<uint8_t, 32>& sha256) const;
  /// Adds (or replaces) a key.
  void put(LabKey key);
  size_t size() const { return keys_.size(); }

 private:
  std::unordered_map<std::string, LabKey, StringHash, std::equal_to<>> keys_;
};

/// Loads a trust list (`labs: [{lab_id, key_id, alg: Ed25519, public_key: HEX, valid_from?,
/// valid_until?, revoked?}]`; DCC labs: `alg: X509` with `certificate: PEM` or
/// `certificate_file: PATH` instead of public_key, see docs/dcc.md). Throws engine::ConfigError if
/// the file cannot be read or has no `labs` list; a bad entry is refused into `refused` (located
/// message) and the rest loads.
std::shared_ptr<const TrustList> load_trust_list(const std::string& path,
                                                 std::vector<std::string>& refused);

/// Why a certificate was refused.
enum class CertRefusal : uint8_t {
  kInvalid = 0,   ///< missing field or a value that makes no sense (see the file comment)
  kUnsigned,      ///< no signature
  kBadSignature,  ///< the signature does not verify over canonical_bytes()
  kUntrustedLab,  ///< lab key not in the trust list, revoked, of another lab, or out of window
};

/// "invalid", "unsigned", "bad_signature", "untrusted_lab".
std::string_view cert_refusal_name(CertRefusal r);

/// A refused certificate: what, why and where (file:line:column or kafka:topic/partition@offset).
struct RefusedCertificate {
  CertRefusal reason = CertRefusal::kInvalid;
  std::string certificate_id;  ///< empty if the certificate had none
  std::string sensor_id;       ///< empty if the certificate had none
  std::string message;         ///< located, human-readable
};

/// Parses one certificate (an item of `certificates:`, or the value of a topic message).
/// Throws engine::ConfigError (located) if a required field is missing or a value is invalid.
/// Does not check the signature.
CalibrationCertificate parse_certificate(const engine::ConfigNode& node);

/// Checks the lab signature of `cert` against `trust`; nullopt if it is trusted, else the
/// refusal (with `where` in its message).
std::optional<RefusedCertificate> check_signature(const CalibrationCertificate& cert,
                                                  const TrustList& trust, const std::string& where);

/// Parses and checks one certificate; either the certificate or the refusal.
struct CertificateOutcome {
  std::optional<CalibrationCertificate> cert;
  std::optional<RefusedCertificate> refused;
};
/// parse_certificate + check_signature, never throws for a bad certificate.
CertificateOutcome load_certificate(const engine::ConfigNode& node, const TrustList& trust);

/// Which certificate applies at a time, or why none does.
enum class CertStatus : uint8_t {
  kValid = 0,      ///< `cert` is valid at the time
  kNoCertificate,  ///< the sensor has no certificate at all (`cert` null)
  kExpired,        ///< the latest certificate before the time has expired (`cert` = it)
  kNotYetValid,    ///< every certificate starts after the time (`cert` = the earliest)
};

/// The fields of a certificate that a decision reads, packed together (a few cache lines)
/// so that a lookup in a fleet of 100k sensors touches little memory. Views point into the
/// certificate (owned by the snapshot) or into the snapshot's own string pool.
struct alignas(64) HotCertificate {
  int64_t valid_from_ns = 0;
  int64_t valid_until_ns = 0;
  std::string_view quantity;  ///< interned in the snapshot
  std::string_view unit;      ///< interned in the snapshot
  double offset = 0;
  double gain = 1;
  /// Coefficients of x^2, x^3, ...: inline when there are at most kInlinePoly (the common
  /// case; no pointer chase into the certificate), else in the certificate.
  const double* poly_far = nullptr;
  static constexpr uint32_t kInlinePoly = 3;
  double poly_inline[kInlinePoly] = {};
  uint32_t poly_size = 0;
  /// The coefficients, wherever they are.
  const double* poly() const { return poly_size <= kInlinePoly ? poly_inline : poly_far; }
  bool conformity_fail = false;  ///< the conformity statement is "fail"
  double expanded_uncertainty = 0;
  double coverage_factor = 2;
  double range_min = 0;
  double range_max = 0;
  Mpe mpe_initial;
  Mpe mpe_in_service;
  std::string_view stable_id;  ///< see CertLookup::stable_id
  const CalibrationCertificate* cert = nullptr;
  // What the identity registry says about the sensor, copied in by finalize() when a registry
  // is attached (so that a decision needs no second lookup).
  bool identity_attached = false;  ///< the identity registry was consulted for this sensor
  bool identity_known = false;     ///< ... and knows the sensor
  bool id_has_min = false;         ///< the registry states a range minimum
  bool id_has_max = false;         ///< ... and maximum
  uint32_t fw_count = 0;           ///< approved firmware hashes (0 = no firmware check)
  std::string_view id_quantity;    ///< the registry's quantity (interned; empty = not stated)
  std::string_view id_unit;        ///< the registry's unit (interned; empty = not stated)
  double id_range_min = 0;
  double id_range_max = 0;
  static constexpr uint32_t kInlineFirmware = 2;
  /// The first approved firmware hashes (all of them are in `info`).
  std::array<std::array<uint8_t, 32>, kInlineFirmware> fw_inline{};
  const SensorInfo* info = nullptr;  ///< owned by the attached identity snapshot
};

/// Result of CalibrationRegistry::lookup.
struct CertLookup {
  CertStatus status = CertStatus::kNoCertificate;
  const CalibrationCertificate* cert = nullptr;
  /// Its decision fields (null when `cert` is).
  const HotCertificate* hot = nullptr;
  /// The certificate id as given to put() (an interned, stable view when the CalibrationStore
  /// built the snapshot; otherwise valid while the snapshot lives).
  std::string_view stable_id;
};

/// A certificate in a registry snapshot with its stable id view.
struct RegisteredCertificate {
  std::shared_ptr<const CalibrationCertificate> cert;
  std::string_view stable_id;
};

/// A snapshot of the accepted certificates, indexed by sensor. Built with put()/erase(),
/// then finalize() builds a flat, open-addressing index for lookups; once published it is
/// immutable and lookups are lock-free. (Lookups also work before finalize(), more slowly.)
class CalibrationRegistry {
 public:
  CalibrationRegistry() = default;
  CalibrationRegistry(const CalibrationRegistry&) = delete;
  CalibrationRegistry& operator=(const CalibrationRegistry&) = delete;

  /// The certificate of `sensor_id` valid at `time_ns`. Several valid at once: the one with
  /// the latest valid_from (then the latest issue date, then the largest certificate_id).
  CertLookup lookup(std::string_view sensor_id, int64_t time_ns) const;
  /// The same with the sensor id's hash_of() already computed.
  CertLookup lookup(std::string_view sensor_id, uint64_t hash, int64_t time_ns) const;
  /// Hash of a sensor id as the index uses it.
  static uint64_t hash_of(std::string_view sensor_id) {
    return std::hash<std::string_view>{}(sensor_id);
  }
  /// Prefetch stage 1: the index slot of `hash` (harmless on an unfinalized snapshot).
  /// Unconditional on purpose: GCC drops a __builtin_prefetch inside an `if`.
  void prefetch_slot(uint64_t hash) const { __builtin_prefetch(slot_base_ + (hash & slot_mask_)); }
  /// Prefetch stage 2, once stage 1 had time to complete: the certificates of the sensor in
  /// that slot (a wasted prefetch if the slot holds another sensor).
  void prefetch_certificates(uint64_t hash) const {
    const Slot& s = slot_base_[hash & slot_mask_];
    const char* p = reinterpret_cast<const char*>(flat_base_ + s.first);
    static_assert(sizeof(HotCertificate) == 320, "prefetch every line of a HotCertificate");
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    __builtin_prefetch(p + 192);
    __builtin_prefetch(p + 256);
  }
  /// Adds or replaces (same certificate_id) a certificate. `stable_id` must view a string that
  /// outlives the snapshot (empty = view the certificate's own id).
  void put(std::shared_ptr<const CalibrationCertificate> cert, std::string_view stable_id = {});
  /// Removes a certificate by id (a tombstone); false if it was not there.
  bool erase(std::string_view certificate_id);
  /// Attaches an identity registry snapshot (kept alive by this snapshot); finalize() copies
  /// what it says about each sensor into the sensor's certificates.
  void attach_identity(std::shared_ptr<const IdentityRegistry> identity);
  /// The attached identity registry (null if none).
  const IdentityRegistry* identity() const { return identity_.get(); }
  /// Builds the flat lookup index (call once the snapshot is complete, before publishing).
  void finalize();
  size_t certificate_count() const { return by_id_.size(); }
  size_t sensor_count() const { return by_sensor_.size(); }

 private:
  struct PerSensor {
    std::vector<std::shared_ptr<const CalibrationCertificate>> owners;  ///< by valid_from
    std::vector<HotCertificate> hot;                                    ///< parallel to owners
  };
  /// A slot of the flat index: 64 bytes, the sensor id inline when it fits.
  struct alignas(64) Slot {
    uint64_t hash = 0;
    uint32_t first = 0;   ///< into flat_
    uint16_t count = 0;   ///< 0 = empty slot
    uint8_t key_len = 0;  ///< kLongKey: compare with the certificate's sensor_id
    char key[49] = {};
  };
  static constexpr uint8_t kLongKey = 255;
  std::string_view intern(const std::string& s);
  void attach(HotCertificate& h, const SensorInfo* info);
  static CertLookup select(const HotCertificate* first, size_t n, int64_t t);

  std::unordered_map<std::string, PerSensor, StringHash, std::equal_to<>> by_sensor_;
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> by_id_;  // -> sensor
  std::unordered_set<std::string> strings_;  ///< quantities and units (node addresses are stable)
  std::shared_ptr<const IdentityRegistry> identity_;
  bool finalized_ = false;
  std::vector<Slot> slots_;
  std::vector<HotCertificate> flat_;
  static const Slot kEmptySlot;
  static const HotCertificate kNoCertificate;
  const Slot* slot_base_ = &kEmptySlot;  ///< slots_.data(), or kEmptySlot (prefetch targets)
  size_t slot_mask_ = 0;
  const HotCertificate* flat_base_ = &kNoCertificate;
};

/// Outcome of loading a certificates file.
struct CertificatesLoadReport {
  size_t loaded = 0;
  double parse_seconds = 0;   ///< reading and parsing the file
  double verify_seconds = 0;  ///< checking the signatures
  std::vector<RefusedCertificate> refused;
};

/// Loads every certificate of a YAML/JSON file (`certificates: [...]`) that passes
/// load_certificate; a DCC XML file (dispatched on content) is one certificate (see dcc.hpp);
/// a directory loads every certificate file in it (certificate_sources.hpp). Throws
/// engine::ConfigError if the file cannot be read or parsed at all. `identity` (optional)
/// gives DCC imports the sensor's unit.
std::vector<CalibrationCertificate> load_certificates_file(
    const std::string& path, const TrustList& trust, CertificatesLoadReport& report,
    const IdentityRegistry* identity = nullptr);

/// Append-only store of strings with stable addresses: views into it stay valid for the
/// store's lifetime, so rows can carry a certificate id as a string_view even after the
/// snapshot that held the certificate was replaced. Grows only with distinct ids.
class InternPool {
 public:
  /// A view of a stored copy of `s` (the same view for equal strings).
  std::string_view intern(std::string_view s);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::deque<std::string> store_;
  std::unordered_set<std::string_view> index_;
};

class IdentityStore;

/// Settings of a CalibrationStore.
struct CalibrationStoreConfig {
  std::string certificates_path;  ///< may be empty when a topic is configured
  std::string trust_path;         ///< required
  connectors::KafkaClientSettings topic_kafka;
  std::string topic;  ///< compacted certificates topic; empty = none
  /// The pipeline's live identity registry (optional): its current snapshot is attached to
  /// every calibration snapshot, which is published again whenever the identity registry changes.
  std::shared_ptr<IdentityStore> identity;
  int64_t reload_interval_ms = 2000;    ///< poll the files (0 = never)
  size_t max_pending_refusals = 10000;  ///< refusals queued for alerts beyond this are dropped
  /// Called for every refusal (from the thread that loaded it), e.g. to count it in metrics.
  std::function<void(const RefusedCertificate&)> on_refused;
  /// Called after every publish with the number of certificates in the new snapshot.
  std::function<void(size_t)> on_published;
  /// The service key: which certificates, trust list and topic.
  std::string key() const {
    return "calibration:" + certificates_path + "|" + trust_path + "|" + topic;
  }
};

/// The live calibration registry (a pipeline service): loads the trust list and the
/// certificates file, follows the files (polling their mtimes) and the topic, and publishes a
/// merged snapshot (identity attached) atomically. Refusals are logged, counted and queued for
/// take_refusals() (the operator turns them into Alert records on the next batch).
class CalibrationStore final : public LiveSource {
 public:
  /// Loads the trust list and the certificates file; throws engine::ConfigError if either
  /// cannot be read at all.
  CalibrationStore(CalibrationStoreConfig config,
                   std::shared_ptr<engine::AuditLog> audit = nullptr);
  ~CalibrationStore() override;

  std::string describe() const override;
  /// The current snapshot (never null).
  std::shared_ptr<const CalibrationRegistry> snapshot() const { return registry_.load(); }
  /// Reloads the files now (what the watcher does on a change). False (previous snapshot
  /// kept) if a file cannot be read at all.
  bool reload_files();
  /// Moves out the refusals queued since the last call.
  std::vector<RefusedCertificate> take_refusals();
  /// True if take_refusals() would return something (cheap).
  bool has_refusals() const { return pending_.load(std::memory_order_relaxed) > 0; }
  /// Certificates refused so far (file loads and topic messages).
  uint64_t refused_total() const { return refused_total_.load(); }
  /// Refusals dropped from the alert queue because it was full.
  uint64_t refusals_dropped() const { return refusals_dropped_.load(); }
  /// Stable view of a certificate id (see InternPool).
  std::string_view intern(std::string_view id) { return ids_.intern(id); }
  /// Its settings.
  const CalibrationStoreConfig& config() const { return config_; }
  /// Publishes again with the identity registry's current snapshot (its change callback).
  void identity_changed() { publish(); }

 protected:
  void on_files_changed() override { reload_files(); }
  int64_t file_stamp(const std::string& file) const override;
  void publish() override;

 private:
  void load_files();  // throws engine::ConfigError
  void refuse(RefusedCertificate r);
  void on_topic_message(std::string_view key, std::optional<std::string_view> value,
                        const std::string& where);

  const CalibrationStoreConfig config_;
  InternPool ids_;
  engine::SnapshotCell<CalibrationRegistry> registry_;
  std::mutex mu_;  // guards trust_, file_certs_, overlay_; publishes one at a time
  std::shared_ptr<const TrustList> trust_;
  std::vector<RegisteredCertificate> file_certs_;
  /// A topic message applied: the certificate (null = tombstone) and the lab key it verified with.
  struct OverlayEntry {
    std::shared_ptr<const CalibrationCertificate> cert;
    std::string_view stable_id;
    std::array<uint8_t, 32> lab_public_key{};
  };
  /// Topic overlay by certificate_id (overrides the file's certificate with the same id).
  std::map<std::string, OverlayEntry, std::less<>> overlay_;
  std::mutex refusals_mu_;
  std::vector<RefusedCertificate> refusals_;
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> refused_total_{0}, refusals_dropped_{0};
};

}  // namespace assay::registries
