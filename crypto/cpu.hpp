#pragma once
/// \file Run-time CPU feature detection and code-path selection for assay::crypto.

#include <string_view>
#include <vector>

namespace assay::crypto {

/// Instruction-set extensions relevant to the crypto code paths.
struct CpuFeatures {
  bool avx2 = false;        ///< AVX2
  bool bmi2 = false;        ///< BMI2 (mulx) + ADX
  bool avx512f = false;     ///< AVX-512 Foundation (+VL, BW, DQ)
  bool avx512ifma = false;  ///< AVX-512 IFMA52
  bool sha_ni = false;      ///< SHA extensions
};

/// Features of the CPU this process runs on (detected once).
const CpuFeatures& cpu_features();

/// A code path. kAuto picks the fastest one the CPU supports.
enum class Backend { kAuto, kOpenSSL, kPortable, kAvx2, kAvx512 };

/// Human-readable name ("openssl", "portable", "avx2", "avx512").
std::string_view backend_name(Backend b);

/// Parses a backend name; returns false if unknown.
bool parse_backend(std::string_view name, Backend& out);

/// True if this CPU can run the given backend (kAuto, kOpenSSL and kPortable always can).
bool backend_supported(Backend b);

/// Every concrete backend this CPU can run (never contains kAuto).
std::vector<Backend> supported_backends();

}  // namespace assay::crypto
