#pragma once
/// \file Internal interface of Assay's ECDSA point engines (not a public header).
///
/// One algorithm, two instantiations: the AVX-512 IFMA engine (crypto/ec_engine_avx512.cpp,
/// 8 verifications per vector, radix 2^52) and the portable engine (crypto/ec_engine.cpp, the
/// same code on one 64-bit lane with 52x52-bit products emulated by 128-bit multiplication).
/// Both compute R = u1·G + u2·Q for prepared verifications and compare x(R) with r; an
/// exceptional case of the (incomplete) addition formulas is detected and reported so that the
/// caller decides that verification with an exact reference (OpenSSL). See
/// docs/verification-ecdsa-hmac.md ("Multi-buffer engine").

#include <cstddef>
#include <cstdint>

namespace assay::crypto::detail {

inline constexpr int kEcMaxL = 6;   ///< 64-bit limbs of the largest curve (384 bits)
inline constexpr int kEcMaxN = 8;   ///< 52-bit limbs of the largest engine field
inline constexpr int kEcMaxM = 16;  ///< largest multiple m·p a subtraction adds

/// Curves the engines know (same order as assay::crypto::EcdsaCurve).
enum class EcCurveId : uint8_t { kP256 = 0, kP384 = 1, kBrainpoolP256r1 = 2, kBrainpoolP384r1 = 3 };

/// Field constants of one curve in the engines' representation: N limbs of 52 bits,
/// Montgomery form with R = 2^(52·N).
struct EcFieldConsts {
  uint64_t p[kEcMaxN];                ///< p, 52-bit limbs
  uint64_t k0;                        ///< -p^-1 mod 2^52
  uint64_t rr[kEcMaxN];               ///< R^2 mod p (plain -> Montgomery: one multiplication)
  uint64_t one[kEcMaxN];              ///< R mod p (1 in Montgomery form)
  uint64_t a[kEcMaxN];                ///< the curve's a, Montgomery form
  bool a_is_minus3;                   ///< a == -3 (P-256, P-384): the cheaper doubling
  uint64_t mp[kEcMaxM + 1][kEcMaxN];  ///< m·p for m = 0..kEcMaxM, normalized 52-bit limbs
};

/// Everything the engines need about a curve; built once per process (ec_curve_params).
struct EcCurveParams {
  EcCurveId id;
  int bits;                ///< bits of p and of n (equal for the four curves)
  int bytes;               ///< bytes of a scalar / coordinate (32 or 48)
  int L;                   ///< 64-bit limbs of a scalar / coordinate (4 or 6)
  int N;                   ///< 52-bit limbs of an engine field element (5, 6 or 8)
  uint64_t p[kEcMaxL];     ///< field prime, little-endian 64-bit limbs
  uint64_t n[kEcMaxL];     ///< group order
  uint64_t n0inv;          ///< -n^-1 mod 2^64 (scalar Montgomery arithmetic)
  uint64_t n_rr[kEcMaxL];  ///< 2^(128·L) mod n
  EcFieldConsts f;
  int q_windows;  ///< windows of 5 bits for u2·Q (cold keys): ceil((bits + 1) / 5)
  int g_window;   ///< comb window of the static table of G
  int g_windows;  ///< comb windows of G: ceil((bits + 1) / g_window)
  /// Static comb table of G: entry (i, j) = (j + 1)·2^(g_window·i)·G, j < 2^(g_window-1).
  /// P-256: detail::P256Affine entries (4x64-bit limbs, Montgomery form with R = 2^256),
  /// shared with the portable P-256 code; others: 2·N limbs (x then y), 52-bit, canonical,
  /// the engines' Montgomery form.
  const void* g_table;
};

/// The curve's constants and G table (built on first use; thread-safe).
const EcCurveParams& ec_curve_params(EcCurveId id);

/// One verification prepared for a point engine: u1 = e·s^-1, u2 = r·s^-1 (mod n), r, and
/// r + n where r + n < p (x(R) may lie in [n, p)).
struct EcPointJob {
  const uint64_t* qx;  ///< public key, affine x (L little-endian 64-bit limbs, < p)
  const uint64_t* qy;  ///< public key, affine y
  const void* qcomb;   ///< P-256 only: the key's comb table (P256Affine, window 6) or null
  uint64_t u1[kEcMaxL];
  uint64_t u2[kEcMaxL];
  uint64_t r[kEcMaxL];
  uint64_t rn[kEcMaxL];  ///< r + n (valid iff has_rn)
  uint8_t has_rn;
};

/// Verdicts of the point engines.
inline constexpr uint8_t kEcInvalid = 0;  ///< x(R) != r (mod n)
inline constexpr uint8_t kEcValid = 1;    ///< x(R) == r (mod n)
inline constexpr uint8_t kEcExact = 2;    ///< an exceptional case: decide with the reference

/// Portable engine: out[i] = verdict of jobs[i].
void ec_verify_portable(const EcCurveParams& c, const EcPointJob* jobs, size_t n, uint8_t* out);

/// AVX-512 IFMA engine (8 lanes). Call only if backend_supported(Backend::kAvx512).
void ec_verify_avx512(const EcCurveParams& c, const EcPointJob* jobs, size_t n, uint8_t* out);

/// P-256 comb-table rows with the AVX-512 engine (call only if backend_supported(kAvx512)):
/// bases = 43 affine points 2^(6i)·Q, out = 43 × 32 entries (j + 1)·base_i, both as
/// detail::P256Affine (canonical, Montgomery form with R = 2^256). Same values as the portable
/// builder in crypto/ecdsa_p256_fast.cpp.
void ec_p256_comb_rows_avx512(const void* bases, void* out);

/// One signature's scalar inputs for ec_prepare (big-endian, c.bytes each; r and s already
/// checked to lie in [1, n-1]; e is the digest truncated to the order's bit length).
struct EcScalarInput {
  const uint8_t* r;
  const uint8_t* s;
  const uint8_t* e;
};

/// Fills u1, u2, r, rn, has_rn of out[0..n) with one modular inversion for the whole span
/// (Montgomery's trick). qx, qy, qcomb are left alone.
void ec_prepare(const EcCurveParams& c, const EcScalarInput* in, size_t n, EcPointJob* out);

/// Per-thread counters of the engines (for tests: which path decided).
struct EcCounters {
  uint64_t engine = 0;  ///< verifications decided by a point engine
  uint64_t exact = 0;   ///< verifications an engine handed to the exact reference
};
/// The calling thread's counters.
EcCounters& ec_thread_counters();

/// Big-endian bytes -> little-endian 64-bit limbs (len = 8·limbs).
void ec_load_be(uint64_t* limbs, int count, const uint8_t* be);

}  // namespace assay::crypto::detail
