#pragma once
/// \file The signed input bytes of TrustedReadings read back in output order (trusted stream
/// format v2, docs/wire-contract.md "Signed batches carried once"): a reading whose
/// signed_bytes_at is Carrier finds them in its carrier, the nearest earlier TrustedReading of
/// the same output partition from the same input record and sensor.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "schemas/trusted_reading_generated.h"

namespace assay::engine {

/// Resolves the signed bytes of the TrustedReadings of one output partition, fed in order.
/// Keeps copies of the last few carriers (bounded), so the records fed need not stay alive.
class SignedBytesResolver {
 public:
  /// Why a reading's signed bytes are not available.
  enum class Missing : uint8_t {
    kNone,       ///< resolved
    kWithheld,   ///< privacy rules withheld them (signed_bytes_sha256 names them)
    kNoCarrier,  ///< a Carrier reference without an earlier carrier (stream read from its middle?)
    kMismatch,   ///< the carrier's bytes do not hash to signed_bytes_sha256
    kAbsent,     ///< neither signed_bytes nor a reference
  };

  /// The signed input bytes of `t` (a verified TrustedReading; feed every one of the partition,
  /// in order): its own or its carrier's; empty with *why set when not available. The span
  /// stays valid until the next call.
  std::span<const uint8_t> resolve(const wire::TrustedReading& t, Missing* why);

  /// The name of a Missing value ("withheld", "no_carrier", "carrier_mismatch", "absent").
  static const char* name(Missing m);

 private:
  struct Carrier {
    std::string topic, sensor;
    int32_t partition = 0;
    int64_t offset = -1;
    std::vector<uint8_t> bytes;
  };
  std::vector<Carrier> carriers_;  // the most recent last (at most kKept)
  static constexpr size_t kKept = 64;
};

}  // namespace assay::engine
