#pragma once
/// \file `assay simulate`: a fleet of signed sensors with injected faults.
///
/// Each sensor has its own key(s) (Ed25519, ECDSA P-256 or HMAC-SHA256), quantity, unit,
/// measuring range, firmware hash and calibration certificate, and its own random stream, so
/// the output is identical for a given seed and start time. Readings are signed in parallel
/// (TBB) in chunks and written in a fixed order. Besides the record stream the simulator
/// writes the identity registry, the calibration certificates, the labs' trust list and one
/// label per reading saying which fault (if any) was injected. See docs/simulator.md.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sim/frame_sink.hpp"
#include "sim/responder.hpp"

namespace assay::sim {

/// Injected faults (labels). kNone first; the order is the order of the summary.
enum class Fault : uint8_t {
  kNone = 0,
  kForged,              ///< signature replaced (garbage of the right length, or another key's)
  kTampered,            ///< value changed in the body after signing
  kReplay,              ///< exact bytes of an earlier record of the sensor re-sent
  kUnknownKey,          ///< signed by a key whose key_id is not in the registry
  kDrift,               ///< sensor whose bias grows slowly (every reading after the start)
  kSpike,               ///< one reading 20 sigma off
  kStuck,               ///< run of 10 identical values
  kClockSkew,           ///< time_ns off by 10..30 minutes
  kExpiredCalibration,  ///< sensor whose certificate expired before its first reading
  kCount
};
inline constexpr size_t kFaultCount = static_cast<size_t>(Fault::kCount);

/// Label name: "none", "forged", "tampered", "replay", "unknown_key", "drift", "spike",
/// "stuck", "clock_skew", "expired_calibration".
std::string_view fault_name(Fault f);

/// Fault rates. forged/tampered/replay/unknown_key: probability per record (frame);
/// spike/clock_skew: per reading; stuck: fraction of readings inside stuck runs (a run of 10
/// starts with probability rate/10); drift/expired_calibration: fraction of sensors.
struct FaultRates {
  std::array<double, kFaultCount> rate{0.0,   0.002, 0.002, 0.002, 0.002,
                                       0.02,  0.002, 0.002, 0.002, 0.02};
  double& operator[](Fault f) { return rate[static_cast<size_t>(f)]; }
  double operator[](Fault f) const { return rate[static_cast<size_t>(f)]; }
};

/// Parses "NAME=RATE" (RATE in [0,1]) into `rates`. False and `error` on a bad spec.
bool parse_fault(std::string_view spec, FaultRates& rates, std::string& error);

/// Fractions of sensors per signature algorithm (normalised; need not sum to 1).
struct AlgMix {
  double ed25519 = 0.5;
  double ecdsa = 0.3;
  double hmac = 0.2;
};

/// Parses "ed25519=0.5,ecdsa=0.3,hmac=0.2" (missing names are 0). False and `error` if bad.
bool parse_alg_mix(std::string_view spec, AlgMix& mix, std::string& error);

/// Record format of the output (docs/simulator.md, "Formats").
enum class SimFormat : uint8_t {
  kAssay = 0,  ///< Assay's SignedReading / SignedBatch FlatBuffers (the default)
  kOcmf,       ///< OCMF records of energy meters signing with ECDSA P-256 (docs/ocmf.md)
  kSenmlCose,  ///< SenML packs (CBOR) in COSE_Sign1 / COSE_Mac0 messages (docs/senml-cose.md)
};

/// Name on the command line: "assay", "ocmf", "senml-cose".
std::string_view sim_format_name(SimFormat f);

/// Parses a --format value. False and `error` if unknown.
bool parse_sim_format(std::string_view name, SimFormat& format, std::string& error);

/// Readings per record at most, per format (OCMF: 256, since Assay's seq is PG x 256 + RD
/// index; SenML: 1024, the parser's default record limit; Assay: 65536).
uint32_t max_batch_size(SimFormat f);

/// Configuration of one simulation run.
struct SimConfig {
  /// Record format. kOcmf: every sensor is an ECDSA P-256 energy meter (alg_mix ignored);
  /// kSenmlCose: clock_skew must be 0 (a skewed time is a SenML replay). Neither takes a
  /// responder.
  SimFormat format = SimFormat::kAssay;
  uint32_t sensors = 100;
  uint64_t records = 100000;  ///< new readings in total (replayed frames come on top)
  uint64_t seed = 1;
  double rate = 0;  ///< readings per second of wall time; 0 = as fast as possible
  std::optional<int64_t> start_time_ns;  ///< default: now minus the simulated duration
  int64_t interval_ms = 1000;            ///< per-sensor reading period (simulated time)
  AlgMix alg_mix;
  double batch_fraction = 0.2;  ///< fraction of sensors sending SignedBatch
  uint32_t batch_size = 8;
  FaultRates faults;
  std::string registry_path;  ///< identity registry YAML ("" = not written)
  std::string certs_path;     ///< calibration certificates YAML ("" = not written)
  std::string labs_path;      ///< labs trust list YAML ("" = not written)
  std::string labels_path;    ///< labels JSON lines ("" = not written)
  std::string keys_dir;       ///< HMAC secret files ("" = "keys" beside the registry)
  unsigned threads = 0;       ///< signing threads (0 = TBB default)
  /// Pick the drifting sensors among those whose drift can be observed (reference checkers
  /// and redundancy-group members, at most one per group) first. Default false: the
  /// historical choice.
  bool drift_observable = false;
  /// Called once the registry, certificates, labs and secrets are written, before the first
  /// record (e.g. to start a pipeline that needs the registry).
  std::function<void()> on_side_files_written;
  /// Remote verification (docs/metrology-cloud.md): the gateway whose requests the instruments
  /// answer at their next reading (null = none). Answering shortens the planning chunks to 64
  /// records so that answers follow requests closely.
  std::shared_ptr<Responder> responder;
  /// Fractions of the instruments per answer behaviour (the rest answer honestly); the
  /// instruments are picked with a seeded shuffle, independent of the faults.
  std::array<double, kAnswerCount> answer_rates{};
  /// Error of a drifted answer, in standard uncertainties of the instrument.
  double answer_drift_sigma = 40;
  /// One JSON line per instrument with its answer behaviour ("" = not written).
  std::string answers_path;
};

/// What a run produced.
struct SimSummary {
  SimFormat format = SimFormat::kAssay;  ///< format of the records
  uint64_t readings = 0;  ///< readings written (including replayed ones)
  uint64_t frames = 0;
  /// SignedReading frames (other formats: records of one reading), including replays.
  uint64_t signed_readings = 0;
  /// SignedBatch frames (other formats: records of a batch sensor), including replays.
  uint64_t signed_batches = 0;
  std::array<uint64_t, kFaultCount> fault_readings{};  ///< readings per label
  std::array<uint64_t, 3> alg_frames{};                ///< frames per Alg (index = Alg value)
  std::array<uint64_t, 3> alg_sensors{};               ///< sensors per Alg
  int64_t start_time_ns = 0;
  int64_t end_time_ns = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;  ///< user + system CPU time of the process during the run
};

/// Checks a configuration (ranges of the numbers). False and `error` if invalid.
bool validate(const SimConfig& config, std::string& error);

/// Runs a simulation: writes the registry / certificates / labs / HMAC secrets first, then the
/// records to `sink` and the labels. False and `error` on an I/O or crypto failure.
bool run_simulation(const SimConfig& config, FrameSink& sink, SimSummary& summary, std::string& error);

/// Multi-line human-readable summary (for stderr).
std::string format_summary(const SimSummary& summary);

}  // namespace assay::sim
