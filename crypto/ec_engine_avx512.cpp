// The AVX-512 IFMA ECDSA point engine: crypto/ec52.hpp on eight 64-bit lanes (one verification
// per lane), products with vpmadd52luq/vpmadd52huq. Compiled with the AVX-512 flags
// (crypto/CMakeLists.txt) and entered only after backend_supported(Backend::kAvx512).
// GCC 12 reports its own _mm512_undefined_epi32() inside the shift intrinsics as "used
// uninitialized" (false positive under -Werror), as in ed25519_avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "crypto/ec52.hpp"

namespace assay::crypto::detail {

void ec_verify_avx512(const EcCurveParams& c, const EcPointJob* jobs, size_t n, uint8_t* out) {
  switch (c.id) {
    case EcCurveId::kP256:
      Engine<LaneZmm, 5, true>::run(c, jobs, n, out);
      break;
    case EcCurveId::kBrainpoolP256r1:
      Engine<LaneZmm, 6, false>::run(c, jobs, n, out);
      break;
    case EcCurveId::kP384:
    case EcCurveId::kBrainpoolP384r1:
      Engine<LaneZmm, 8, false>::run(c, jobs, n, out);
      break;
  }
}

void ec_p256_comb_rows_avx512(const void* bases, void* out) {
  Engine<LaneZmm, 5, true>::comb_rows(ec_curve_params(EcCurveId::kP256),
                                      static_cast<const uint64_t*>(bases),
                                      static_cast<uint64_t*>(out));
}

}  // namespace assay::crypto::detail
