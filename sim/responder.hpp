#pragma once
/// \file The simulated fleet's side of remote verification (docs/metrology-cloud.md, "The
/// protocol"): an instrument gateway written from the protocol's documentation, independently of
/// Assay's metrology code. It takes test-case requests (VerificationRequest, AVRQ), checks them
/// (FlatBuffers Verifier, the engine's Ed25519 signature with OpenSSL, a known instrument, not
/// yet answered, not past its deadline) and queues them; the simulator then answers each with a
/// signed ReferenceCheck reading of the instrument that names the request — at the instrument's
/// next reading, so seq and time stay in order.
///
/// Each instrument answers in one way, chosen per sensor with a seeded shuffle (like the
/// simulator's faults): honestly, drifted (an error of `drift_sigma` standard uncertainties),
/// with unapproved firmware, not at all, signed with another instrument's key, or twice.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace assay::sim {

/// How a simulated instrument answers verification requests.
enum class Answer : uint8_t {
  kHonest = 0,     ///< reference + its (corrected) static error + noise
  kDrifted,        ///< reference + drift_sigma * u: out of tolerance
  kWrongFirmware,  ///< the answer reports an unapproved firmware hash
  kSilent,         ///< never answers
  kWrongKey,       ///< signed with another instrument's key (refused by verify_signature)
  kDuplicate,      ///< answers twice (the second is refused as a duplicate)
  kCount
};
inline constexpr size_t kAnswerCount = static_cast<size_t>(Answer::kCount);

/// "honest", "drifted", "wrong_firmware", "silent", "wrong_key", "duplicate".
std::string_view answer_name(Answer a);

/// Parses "NAME=FRACTION" (a fraction of the instruments in [0,1]) into `rates`.
bool parse_answer_rate(std::string_view spec, std::array<double, kAnswerCount>& rates,
                       std::string& error);

/// A checked request waiting for its instrument's next reading.
struct PendingRequest {
  std::string request_id;
  double reference_value = 0;
  int64_t deadline_ns = 0;
  bool repeat = false;  ///< already answered once (a duplicate answer)
};

/// The gateway: thread-safe inbox of requests for the simulated instruments.
class Responder {
 public:
  /// `engine_public_key`: the Ed25519 key requests must be signed with.
  explicit Responder(std::array<uint8_t, 32> engine_public_key);

  /// Hands over one request record (a Kafka message value). False with a reason if refused
  /// (not a request, bad signature, unknown instrument, past its deadline, already seen).
  bool deliver(std::span<const uint8_t> record, int64_t now_ns, std::string* why = nullptr);

  // Simulator side.
  /// Registers the fleet's instruments (id -> index) and their behaviours.
  void set_fleet(std::unordered_map<std::string, uint32_t> index, std::vector<Answer> answers);
  /// True if any request waits (cheap).
  bool pending() const { return waiting_.load(std::memory_order_acquire) > 0; }
  /// Takes the oldest request waiting for instrument `index`, if any.
  std::optional<PendingRequest> take(uint32_t index);
  /// Puts a request back for instrument `index` (a second answer).
  void requeue(uint32_t index, PendingRequest request);
  /// The behaviour of instrument `index`.
  Answer answer_of(uint32_t index) const;

  /// Requests accepted / refused so far.
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  const std::array<uint8_t, 32> key_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<Answer> answers_;
  std::map<uint32_t, std::vector<PendingRequest>> queue_;
  std::unordered_map<std::string, bool> seen_;
  std::atomic<uint64_t> waiting_{0}, accepted_{0}, refused_{0};
};

/// The canonical bytes of a request as docs/metrology-cloud.md specifies them (the gateway's
/// own implementation, used to check the engine's signature).
std::vector<uint8_t> gateway_request_canonical_bytes(std::span<const uint8_t> record,
                                                     std::string* error);

}  // namespace assay::sim
