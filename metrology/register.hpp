#pragma once
/// \file The live instrument register (docs/metrology-cloud.md, "The register"): per instrument
/// of the identity registry the state market surveillance asks about — identity and keys,
/// firmware seen vs approved, calibration certificate in force and its expiry, last
/// e-verification result, drift and anomaly status, last reading time, trusted and rejected
/// counts. Updated from the stream by the `instrument_register` operator (never by polling a
/// database), joined at query time with the registries, served read-only as JSON on the
/// pipeline's HTTP endpoint and exported as a snapshot file (JSON lines).
///
/// Memory layout, for a fleet of a million instruments: an immutable open-addressing index
/// (sensor id hash -> slot), republished when the identity registry changes; per slot one
/// 128-byte entry (the id inline, the live counters as relaxed atomics) in chunks that never
/// move; and packed columns the filters scan (a 32-bit status word and the certificate's end
/// of validity per slot). The operator touches one index slot and one entry per reading.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/batch.hpp"
#include "engine/http_route.hpp"
#include "engine/operator.hpp"
#include "engine/service.hpp"
#include "engine/snapshot_cell.hpp"
#include "metrology/aas.hpp"
#include "metrology/protocol.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_store.hpp"

namespace assay::metrology {

/// Settings of an InstrumentRegister.
struct RegisterConfig {
  std::shared_ptr<registries::IdentityStore> identity;        ///< required
  std::shared_ptr<registries::CalibrationStore> calibration;  ///< optional
  std::string snapshot_path;             ///< JSON lines file, written atomically ("" = none)
  int64_t snapshot_interval_ms = 60000;  ///< 0 = only when the pipeline stops
  /// How often certificates in force are looked up again (a certificate may start or end).
  int64_t certificate_refresh_ms = 60000;
  /// Where the trusted stream is, for the AAS TimeSeries linked segment ("kafka://host/topic").
  std::string trusted_endpoint;
  std::string aas_id_prefix = "urn:assay:aas:";
  NameplateDefaults nameplate;
  /// Most instruments the register holds (the identity registry beyond this is ignored).
  size_t max_instruments = 16u << 20;
  /// The clock queries and certificate refreshes use (UTC ns; tests set their own).
  std::function<int64_t()> clock;
};

/// Filters of a register query (all that are set must hold).
struct RegisterQuery {
  std::optional<int64_t> calibration_expires_within_ns;  ///< in force, ends within this from now
  bool calibration_missing = false;                      ///< no certificate in force now
  std::optional<Outcome> verification;                   ///< last e-verification outcome
  bool never_verified = false;
  bool firmware_not_approved = false;     ///< the last firmware seen is not approved
  std::optional<uint8_t> drift_at_least;  ///< last drift level (wire::DriftLevel) >= this
  bool anomalous = false;                 ///< the last reading had anomaly flags
  std::optional<int64_t> silent_for_ns;   ///< no reading for at least this long (or never)
  std::string owner;                      ///< identity registry's owner
  std::string group;                      ///< redundancy group
  size_t offset = 0;                      ///< slot to start scanning at (a cursor)
  size_t limit = 100;                     ///< at most this many returned
};

/// What a register query found.
struct RegisterPage {
  size_t matched = 0;                 ///< matches from `offset` to the end
  size_t scanned = 0;                 ///< slots scanned
  std::optional<size_t> next_offset;  ///< the cursor of the next page (none: the last page)
  std::string json;                   ///< {"matched":..,"instruments":[...],"next_offset":..}
};

/// The live register (an engine::Service). Thread-safe.
class InstrumentRegister final : public engine::Service,
                                 public std::enable_shared_from_this<InstrumentRegister> {
 public:
  /// Builds the index from the identity registry's current snapshot. Throws
  /// std::invalid_argument without an identity store.
  explicit InstrumentRegister(RegisterConfig config);
  ~InstrumentRegister() override;

  std::string describe() const override;
  bool start(std::string* error) override;
  void stop() override;
  std::vector<engine::HttpRoute> http_routes() override;

  /// Records the rows of `batch` (all of them, rejected ones too) at processing time `now_ns`.
  /// The hot path of the `instrument_register` operator.
  void observe(const engine::Batch& batch, int64_t now_ns);
  /// Records a final e-verification result (a CampaignService subscriber).
  void on_result(const Result& result);

  /// Number of instruments.
  size_t size() const;
  /// Readings of sensors the register does not know (not in the identity registry).
  uint64_t unknown_readings() const { return unknown_.load(std::memory_order_relaxed); }
  /// Runs a query at time `now_ns`.
  RegisterPage query(const RegisterQuery& q, int64_t now_ns) const;
  /// One instrument as JSON (null if unknown).
  std::optional<std::string> instrument_json(std::string_view sensor_id, int64_t now_ns) const;
  /// The AAS environment of one instrument (IDTA-01001 JSON), null if unknown.
  std::optional<std::string> aas_json(std::string_view sensor_id, int64_t now_ns) const;
  /// Summary counts as JSON.
  std::string summary_json(int64_t now_ns) const;
  /// A few lines for a terminal (the demo's end).
  std::string summary_text(int64_t now_ns) const;
  /// Writes the snapshot (first line the summary, then one line per instrument) to `path`
  /// atomically (temporary file + rename). False with a message.
  bool write_snapshot(const std::string& path, std::string* error) const;
  /// Looks up the certificate in force for every instrument again (the service thread does
  /// this when the calibration registry changes and every certificate_refresh_ms).
  void refresh_certificates(int64_t now_ns);
  /// Adds instruments the identity registry gained since the last call.
  void refresh_identity();
  /// Answers an HTTP request (the routes' handler; exposed for tests).
  engine::HttpReply handle(const engine::HttpRequest& request) const;

  struct Entry;
  struct Index;
  struct Columns;

 private:
  void loop();
  Entry* entry(uint32_t slot) const;
  std::optional<uint32_t> find(std::string_view id) const;
  void append_instrument(std::string_view id);
  void entry_json(std::string& out, uint32_t slot, int64_t now_ns,
                  const registries::IdentityRegistry& identity) const;

  const RegisterConfig config_;
  std::unique_ptr<Columns> cols_;
  engine::SnapshotCell<Index> index_;
  std::atomic<uint32_t> count_{0};
  std::atomic<uint64_t> unknown_{0};
  uint64_t identity_generation_ = 0;
  uint64_t calibration_generation_ = 0;
  mutable std::mutex cold_mu_;  ///< guards the cold columns (certificates, verification results)
  std::mutex build_mu_;         ///< one identity refresh at a time
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::thread thread_;
};

/// Operator `instrument_register`: feeds every row to the pipeline's register. Stateful (it
/// runs in a serial stage), so the register's "last" fields follow input order.
class RegisterOperator final : public engine::Operator {
 public:
  /// `reg` is required.
  explicit RegisterOperator(std::shared_ptr<InstrumentRegister> reg);
  std::string_view type() const override { return "instrument_register"; }
  bool stateful() const override { return true; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override;
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;
  /// The register.
  const std::shared_ptr<InstrumentRegister>& reg() const { return reg_; }

 private:
  const std::shared_ptr<InstrumentRegister> reg_;
};

}  // namespace assay::metrology
