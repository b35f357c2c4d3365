#pragma once
/// \file Internal Ed25519 arithmetic (not a public header): the field GF(2^255-19) in radix 2^51,
/// the twisted Edwards group in extended coordinates, scalars mod L in Montgomery form, and
/// width-w NAF recoding. Everything here is `static inline` on purpose: this header may also be
/// included by translation units compiled with wider instruction sets (`*_avx512.cpp`), and
/// internal linkage keeps those copies from replacing the portable ones at link time.
///
/// All routines are variable-time: verification only handles public data.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace assay::crypto::ed25519_internal {

// ---------------------------------------------------------------------------------------------
// Field element: value = sum v[i] * 2^(51 i). Invariants (documented per function):
// "reduced" = every limb < 2^51 + 2^16; mul/sq accept limbs < 2^54.
// ---------------------------------------------------------------------------------------------
struct Fe {
  uint64_t v[5];
};

inline constexpr uint64_t kMask51 = (uint64_t{1} << 51) - 1;
using u128 = unsigned __int128;

static inline Fe fe_zero() { return Fe{{0, 0, 0, 0, 0}}; }
static inline Fe fe_one() { return Fe{{1, 0, 0, 0, 0}}; }

/// Weak reduction: carries so that limbs 1..4 are < 2^51 and limb 0 < 2^51 + 19 * 2^13.
[[gnu::always_inline]] static inline void fe_carry(Fe& h) {
  uint64_t c;
  c = h.v[0] >> 51; h.v[0] &= kMask51; h.v[1] += c;
  c = h.v[1] >> 51; h.v[1] &= kMask51; h.v[2] += c;
  c = h.v[2] >> 51; h.v[2] &= kMask51; h.v[3] += c;
  c = h.v[3] >> 51; h.v[3] &= kMask51; h.v[4] += c;
  c = h.v[4] >> 51; h.v[4] &= kMask51; h.v[0] += 19 * c;
}

/// a + b without carry (inputs reduced -> output limbs < 2^52.1).
[[gnu::always_inline]] static inline Fe fe_add(const Fe& a, const Fe& b) {
  Fe h;
  for (int i = 0; i < 5; ++i) h.v[i] = a.v[i] + b.v[i];
  return h;
}

/// a - b, computed as a + 4p - b and weakly reduced. Requires b limbs < 2^53 - 76, a < 2^62.
[[gnu::always_inline]] static inline Fe fe_sub(const Fe& a, const Fe& b) {
  Fe h;
  h.v[0] = a.v[0] + ((uint64_t{1} << 53) - 76) - b.v[0];
  for (int i = 1; i < 5; ++i) h.v[i] = a.v[i] + ((uint64_t{1} << 53) - 4) - b.v[i];
  fe_carry(h);
  return h;
}

/// -a (weakly reduced).
static inline Fe fe_neg(const Fe& a) { return fe_sub(fe_zero(), a); }

/// Carries 128-bit column sums of a product into reduced 51-bit limbs (shared by fe_mul and
/// fe_sq).
[[gnu::always_inline]] static inline Fe fe_carry_wide(u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
  Fe h;
  r1 += r0 >> 51; h.v[0] = (uint64_t)r0 & kMask51;
  r2 += r1 >> 51; h.v[1] = (uint64_t)r1 & kMask51;
  r3 += r2 >> 51; h.v[2] = (uint64_t)r2 & kMask51;
  r4 += r3 >> 51; h.v[3] = (uint64_t)r3 & kMask51;
  h.v[4] = (uint64_t)r4 & kMask51;
  u128 t = (r4 >> 51) * 19 + h.v[0];
  h.v[0] = (uint64_t)t & kMask51;
  h.v[1] += (uint64_t)(t >> 51);
  return h;
}

/// a * b mod p. Inputs: limbs < 2^54. Output: reduced.
[[gnu::always_inline]] static inline Fe fe_mul(const Fe& a, const Fe& b) {
  const uint64_t a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3], a4 = a.v[4];
  const uint64_t b0 = b.v[0], b1 = b.v[1], b2 = b.v[2], b3 = b.v[3], b4 = b.v[4];
  const uint64_t b1_19 = 19 * b1, b2_19 = 19 * b2, b3_19 = 19 * b3, b4_19 = 19 * b4;
  u128 r0 = (u128)a0 * b0 + (u128)a1 * b4_19 + (u128)a2 * b3_19 + (u128)a3 * b2_19 +
            (u128)a4 * b1_19;
  u128 r1 = (u128)a0 * b1 + (u128)a1 * b0 + (u128)a2 * b4_19 + (u128)a3 * b3_19 +
            (u128)a4 * b2_19;
  u128 r2 = (u128)a0 * b2 + (u128)a1 * b1 + (u128)a2 * b0 + (u128)a3 * b4_19 +
            (u128)a4 * b3_19;
  u128 r3 = (u128)a0 * b3 + (u128)a1 * b2 + (u128)a2 * b1 + (u128)a3 * b0 + (u128)a4 * b4_19;
  u128 r4 = (u128)a0 * b4 + (u128)a1 * b3 + (u128)a2 * b2 + (u128)a3 * b1 + (u128)a4 * b0;
  return fe_carry_wide(r0, r1, r2, r3, r4);
}

/// a^2 mod p. Inputs: limbs < 2^54. Output: reduced.
[[gnu::always_inline]] static inline Fe fe_sq(const Fe& a) {
  const uint64_t a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3], a4 = a.v[4];
  const uint64_t a0_2 = 2 * a0, a1_2 = 2 * a1;
  const uint64_t a1_38 = 38 * a1, a2_38 = 38 * a2, a3_38 = 38 * a3, a3_19 = 19 * a3,
                 a4_19 = 19 * a4;
  u128 r0 = (u128)a0 * a0 + (u128)a1_38 * a4 + (u128)a2_38 * a3;
  u128 r1 = (u128)a0_2 * a1 + (u128)a2_38 * a4 + (u128)a3_19 * a3;
  u128 r2 = (u128)a0_2 * a2 + (u128)a1 * a1 + (u128)a3_38 * a4;
  u128 r3 = (u128)a0_2 * a3 + (u128)a1_2 * a2 + (u128)a4_19 * a4;
  u128 r4 = (u128)a0_2 * a4 + (u128)a1_2 * a3 + (u128)a2 * a2;
  return fe_carry_wide(r0, r1, r2, r3, r4);
}

/// a^(2^n).
static inline Fe fe_sqn(Fe a, int n) {
  for (int i = 0; i < n; ++i) a = fe_sq(a);
  return a;
}

/// Loads the low 255 bits of a little-endian 32-byte string (bit 255 ignored).
static inline Fe fe_frombytes(const uint8_t s[32]) {
  uint64_t w[4];
  for (int i = 0; i < 4; ++i) {
    uint64_t x = 0;
    for (int j = 7; j >= 0; --j) x = (x << 8) | s[8 * i + j];
    w[i] = x;
  }
  Fe h;
  h.v[0] = w[0] & kMask51;
  h.v[1] = ((w[0] >> 51) | (w[1] << 13)) & kMask51;
  h.v[2] = ((w[1] >> 38) | (w[2] << 26)) & kMask51;
  h.v[3] = ((w[2] >> 25) | (w[3] << 39)) & kMask51;
  h.v[4] = (w[3] >> 12) & kMask51;
  return h;
}

/// True if the low 255 bits of s encode an integer < p (bit 255 ignored).
static inline bool fe_bytes_canonical(const uint8_t s[32]) {
  if ((s[31] & 0x7f) != 0x7f) return true;
  for (int i = 30; i >= 1; --i)
    if (s[i] != 0xff) return true;
  return s[0] < 0xed;
}

/// Canonical little-endian encoding (fully reduced mod p). Input: limbs < 2^62.
static inline void fe_tobytes(uint8_t out[32], const Fe& a) {
  Fe t = a;
  fe_carry(t);
  fe_carry(t);
  uint64_t q = (t.v[0] + 19) >> 51;
  q = (t.v[1] + q) >> 51;
  q = (t.v[2] + q) >> 51;
  q = (t.v[3] + q) >> 51;
  q = (t.v[4] + q) >> 51;
  t.v[0] += 19 * q;
  uint64_t c;
  c = t.v[0] >> 51; t.v[0] &= kMask51; t.v[1] += c;
  c = t.v[1] >> 51; t.v[1] &= kMask51; t.v[2] += c;
  c = t.v[2] >> 51; t.v[2] &= kMask51; t.v[3] += c;
  c = t.v[3] >> 51; t.v[3] &= kMask51; t.v[4] += c;
  t.v[4] &= kMask51;
  const uint64_t w[4] = {t.v[0] | (t.v[1] << 51), (t.v[1] >> 13) | (t.v[2] << 38),
                         (t.v[2] >> 26) | (t.v[3] << 25), (t.v[3] >> 39) | (t.v[4] << 12)};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) out[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static inline bool fe_is_zero(const Fe& a) {
  uint8_t s[32];
  fe_tobytes(s, a);
  uint8_t acc = 0;
  for (uint8_t b : s) acc |= b;
  return acc == 0;
}

static inline bool fe_equal(const Fe& a, const Fe& b) { return fe_is_zero(fe_sub(a, b)); }

/// Parity of the canonical representative ("negative" in RFC 8032 terms).
static inline int fe_is_odd(const Fe& a) {
  uint8_t s[32];
  fe_tobytes(s, a);
  return s[0] & 1;
}

/// z^(2^250 - 1) and z^11 (shared prefix of the inversion and square-root chains).
static inline Fe fe_pow2_250_1(const Fe& z, Fe* z11_out) {
  Fe z2 = fe_sq(z);
  Fe z9 = fe_mul(fe_sqn(z2, 2), z);
  Fe z11 = fe_mul(z9, z2);
  Fe z_5_0 = fe_mul(fe_sq(z11), z9);            // z^(2^5 - 1)
  Fe z_10_0 = fe_mul(fe_sqn(z_5_0, 5), z_5_0);  // z^(2^10 - 1)
  Fe z_20_0 = fe_mul(fe_sqn(z_10_0, 10), z_10_0);
  Fe z_40_0 = fe_mul(fe_sqn(z_20_0, 20), z_20_0);
  Fe z_50_0 = fe_mul(fe_sqn(z_40_0, 10), z_10_0);
  Fe z_100_0 = fe_mul(fe_sqn(z_50_0, 50), z_50_0);
  Fe z_200_0 = fe_mul(fe_sqn(z_100_0, 100), z_100_0);
  Fe z_250_0 = fe_mul(fe_sqn(z_200_0, 50), z_50_0);
  if (z11_out) *z11_out = z11;
  return z_250_0;
}

/// z^(p-2) = z^-1 (0 maps to 0).
static inline Fe fe_invert(const Fe& z) {
  Fe z11;
  Fe t = fe_pow2_250_1(z, &z11);
  return fe_mul(fe_sqn(t, 5), z11);
}

/// z^((p-5)/8) = z^(2^252 - 3).
static inline Fe fe_pow22523(const Fe& z) {
  Fe t = fe_pow2_250_1(z, nullptr);
  return fe_mul(fe_sqn(t, 2), z);
}

inline constexpr Fe kFeD = {{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL,
                             0x739c663a03cbbULL, 0x52036cee2b6ffULL}};
inline constexpr Fe kFeD2 = {{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL,
                              0x6738cc7407977ULL, 0x2406d9dc56dffULL}};
inline constexpr Fe kFeSqrtM1 = {{0x61b274a0ea0b0ULL, 0xd5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
                                  0x78595a6804c9eULL, 0x2b8324804fc1dULL}};

// ---------------------------------------------------------------------------------------------
// Group: twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 (Hisil-Wong-Carter-Dawson formulas).
// ---------------------------------------------------------------------------------------------
/// Extended coordinates: x = X/Z, y = Y/Z, x*y = T/Z.
struct GeP3 {
  Fe X, Y, Z, T;
};
/// Projective coordinates (no T): enough for doubling.
struct GeP2 {
  Fe X, Y, Z;
};
/// "Completed" coordinates: x = X/Z, y = Y/T (output of add/dbl before normalisation).
struct GeP1P1 {
  Fe X, Y, Z, T;
};
/// Addend form: Y+X, Y-X, Z, 2d*T.
struct GeCached {
  Fe YplusX, YminusX, Z, T2d;
};

static inline GeP3 ge_identity() { return GeP3{fe_zero(), fe_one(), fe_one(), fe_zero()}; }
static inline GeP2 ge_p2_identity() { return GeP2{fe_zero(), fe_one(), fe_one()}; }

static inline GeP2 ge_p1p1_to_p2(const GeP1P1& p) {
  return GeP2{fe_mul(p.X, p.T), fe_mul(p.Y, p.Z), fe_mul(p.Z, p.T)};
}
static inline GeP3 ge_p1p1_to_p3(const GeP1P1& p) {
  return GeP3{fe_mul(p.X, p.T), fe_mul(p.Y, p.Z), fe_mul(p.Z, p.T), fe_mul(p.X, p.Y)};
}
static inline GeP2 ge_p3_to_p2(const GeP3& p) { return GeP2{p.X, p.Y, p.Z}; }
static inline GeCached ge_p3_to_cached(const GeP3& p) {
  return GeCached{fe_add(p.Y, p.X), fe_sub(p.Y, p.X), p.Z, fe_mul(p.T, kFeD2)};
}

/// 2P (dbl-2008-hwcd with a = -1, signs arranged so that no negation is needed).
static inline GeP1P1 ge_p2_dbl(const GeP2& p) {
  Fe a = fe_sq(p.X);
  Fe b = fe_sq(p.Y);
  Fe zz = fe_sq(p.Z);
  Fe c = fe_add(zz, zz);
  Fe h = fe_add(a, b);                   // -H
  Fe e = fe_sub(h, fe_sq(fe_add(p.X, p.Y)));  // -E
  Fe g = fe_sub(a, b);                   // -G
  Fe f = fe_add(c, g);                   // -F
  return GeP1P1{e, h, g, f};
}
static inline GeP1P1 ge_p3_dbl(const GeP3& p) { return ge_p2_dbl(ge_p3_to_p2(p)); }

/// P + Q (add-2008-hwcd-3).
static inline GeP1P1 ge_add(const GeP3& p, const GeCached& q) {
  Fe a = fe_mul(fe_sub(p.Y, p.X), q.YminusX);
  Fe b = fe_mul(fe_add(p.Y, p.X), q.YplusX);
  Fe c = fe_mul(p.T, q.T2d);
  Fe zz = fe_mul(p.Z, q.Z);
  Fe d = fe_add(zz, zz);
  return GeP1P1{fe_sub(b, a), fe_add(b, a), fe_add(d, c), fe_sub(d, c)};
}

/// P - Q.
static inline GeP1P1 ge_sub(const GeP3& p, const GeCached& q) {
  Fe a = fe_mul(fe_sub(p.Y, p.X), q.YplusX);
  Fe b = fe_mul(fe_add(p.Y, p.X), q.YminusX);
  Fe c = fe_mul(p.T, q.T2d);
  Fe zz = fe_mul(p.Z, q.Z);
  Fe d = fe_add(zz, zz);
  return GeP1P1{fe_sub(b, a), fe_add(b, a), fe_sub(d, c), fe_add(d, c)};
}

static inline GeP3 ge_neg(const GeP3& p) { return GeP3{fe_neg(p.X), p.Y, p.Z, fe_neg(p.T)}; }

/// True if P is the neutral element (0, 1).
static inline bool ge_is_identity(const GeP3& p) {
  return fe_is_zero(p.X) && fe_equal(p.Y, p.Z);
}
static inline bool ge_p2_is_identity(const GeP2& p) {
  return fe_is_zero(p.X) && fe_equal(p.Y, p.Z);
}

/// [8]P == identity, i.e. P has small order (or is the identity).
static inline bool ge_mul8_is_identity(const GeP2& p) {
  GeP2 q = ge_p1p1_to_p2(ge_p2_dbl(p));
  q = ge_p1p1_to_p2(ge_p2_dbl(q));
  q = ge_p1p1_to_p2(ge_p2_dbl(q));
  return ge_p2_is_identity(q);
}

/// Heavy part of RFC 8032 5.1.3 decoding for a y coordinate: u = y^2 - 1, v = d y^2 + 1,
/// x = u v^3 (u v^7)^((p-5)/8) and vxx = v x^2. Vectorised back ends compute the same values.
static inline void ge_decode_core(const Fe& y, Fe& x, Fe& u, Fe& vxx) {
  Fe yy = fe_sq(y);
  u = fe_sub(yy, fe_one());
  Fe v = fe_add(fe_mul(yy, kFeD), fe_one());
  Fe v3 = fe_mul(fe_sq(v), v);
  Fe v7 = fe_mul(fe_sq(v3), v);
  x = fe_mul(fe_mul(u, v3), fe_pow22523(fe_mul(u, v7)));
  vxx = fe_mul(v, fe_sq(x));
}

/// Completes decoding from ge_decode_core's outputs: square-root check, x = 0 with sign bit
/// set rejected, sign applied. `s` is the encoding (already checked canonical).
static inline bool ge_decode_finish(GeP3& out, const uint8_t s[32], const Fe& y, Fe x,
                                    const Fe& u, const Fe& vxx) {
  const int sign = s[31] >> 7;
  if (!fe_equal(vxx, u)) {
    if (!fe_equal(vxx, fe_neg(u))) return false;
    x = fe_mul(x, kFeSqrtM1);
  }
  uint8_t xb[32];
  fe_tobytes(xb, x);
  bool x_zero = true;
  for (uint8_t b : xb) x_zero = x_zero && b == 0;
  if (x_zero && sign) return false;
  if ((xb[0] & 1) != sign) x = fe_neg(x);
  out.X = x;
  out.Y = y;
  out.Z = fe_one();
  out.T = fe_mul(x, y);
  return true;
}

/// RFC 8032 5.1.3 decoding with strict canonicity: rejects y >= p and (x = 0, sign = 1).
static inline bool ge_decode(GeP3& out, const uint8_t s[32]) {
  if (!fe_bytes_canonical(s)) return false;
  const Fe y = fe_frombytes(s);
  Fe x, u, vxx;
  ge_decode_core(y, x, u, vxx);
  return ge_decode_finish(out, s, y, x, u, vxx);
}

static inline void ge_encode(uint8_t out[32], const GeP2& p) {
  Fe zi = fe_invert(p.Z);
  Fe x = fe_mul(p.X, zi);
  Fe y = fe_mul(p.Y, zi);
  fe_tobytes(out, y);
  out[31] ^= (uint8_t)(fe_is_odd(x) << 7);
}

// ---------------------------------------------------------------------------------------------
// Scalars modulo L = 2^252 + 27742317777372353535851937790883648493 (4 x 64-bit limbs).
// ---------------------------------------------------------------------------------------------
struct Sc {
  uint64_t v[4];
};

inline constexpr Sc kL = {{0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL}};

static constexpr uint64_t sc_n0inv() {  // -L^-1 mod 2^64
  uint64_t x = kL.v[0];
  for (int i = 0; i < 6; ++i) x *= 2 - kL.v[0] * x;
  return ~x + 1;
}
inline constexpr uint64_t kScN0 = sc_n0inv();

static constexpr bool sc_geq(const Sc& a, const Sc& b) {
  for (int i = 3; i >= 0; --i) {
    if (a.v[i] != b.v[i]) return a.v[i] > b.v[i];
  }
  return true;
}
static constexpr Sc sc_sub_raw(const Sc& a, const Sc& b) {
  Sc r{};
  uint64_t borrow = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t d = a.v[i] - b.v[i];
    uint64_t b1 = a.v[i] < b.v[i];
    uint64_t d2 = d - borrow;
    uint64_t b2 = d < borrow;
    r.v[i] = d2;
    borrow = b1 | b2;
  }
  return r;
}
/// (a + b) mod L for a, b < L.
static constexpr Sc sc_add(const Sc& a, const Sc& b) {
  Sc r{};
  uint64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t s = a.v[i] + carry;
    uint64_t c1 = s < carry;
    uint64_t s2 = s + b.v[i];
    uint64_t c2 = s2 < s;
    r.v[i] = s2;
    carry = c1 | c2;
  }
  // a + b < 2L < 2^254: no carry out of limb 3.
  if (sc_geq(r, kL)) r = sc_sub_raw(r, kL);
  return r;
}
/// Montgomery product a*b/2^256 mod L for any a < 2^256 and b < L.
static constexpr Sc sc_montmul(const Sc& a, const Sc& b) {
  uint64_t t[6] = {0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    u128 c = 0;
    for (int j = 0; j < 4; ++j) {
      c += (u128)a.v[i] * b.v[j] + t[j];
      t[j] = (uint64_t)c;
      c >>= 64;
    }
    c += t[4];
    t[4] = (uint64_t)c;
    t[5] = (uint64_t)(c >> 64);
    const uint64_t m = t[0] * kScN0;
    c = (u128)m * kL.v[0] + t[0];
    c >>= 64;
    for (int j = 1; j < 4; ++j) {
      c += (u128)m * kL.v[j] + t[j];
      t[j - 1] = (uint64_t)c;
      c >>= 64;
    }
    c += t[4];
    t[3] = (uint64_t)c;
    t[4] = t[5] + (uint64_t)(c >> 64);
  }
  Sc r{{t[0], t[1], t[2], t[3]}};
  if (sc_geq(r, kL)) r = sc_sub_raw(r, kL);
  return r;
}
static constexpr Sc sc_pow2_mod_l(int e) {
  Sc r{{1, 0, 0, 0}};
  for (int i = 0; i < e; ++i) r = sc_add(r, r);
  return r;
}
inline constexpr Sc kScR2 = sc_pow2_mod_l(512);
inline constexpr Sc kScR3 = sc_pow2_mod_l(768);
inline constexpr Sc kScOne = {{1, 0, 0, 0}};

/// a * b mod L for a < 2^256, b < L.
static inline Sc sc_mul(const Sc& a, const Sc& b) { return sc_montmul(sc_montmul(a, b), kScR2); }

static inline Sc sc_load32(const uint8_t s[32]) {
  Sc r;
  for (int i = 0; i < 4; ++i) {
    uint64_t x = 0;
    for (int j = 7; j >= 0; --j) x = (x << 8) | s[8 * i + j];
    r.v[i] = x;
  }
  return r;
}
static inline void sc_store32(uint8_t out[32], const Sc& a) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) out[8 * i + j] = (uint8_t)(a.v[i] >> (8 * j));
}
/// True if the 32-byte little-endian integer is < L.
static inline bool sc_bytes_canonical(const uint8_t s[32]) {
  Sc a = sc_load32(s);
  return !sc_geq(a, kL);
}
/// 64-byte little-endian integer mod L.
static inline Sc sc_reduce64(const uint8_t s[64]) {
  Sc lo = sc_load32(s);
  Sc hi = sc_load32(s + 32);
  Sc x = sc_add(sc_montmul(lo, kScR2), sc_montmul(hi, kScR3));  // (lo + hi*R) * R
  return sc_montmul(x, kScOne);
}

/// Width-w NAF of a scalar < 2^255: naf[i] odd in (-2^(w-1), 2^(w-1)) or 0; sum naf[i] 2^i.
/// Returns 1 + index of the highest non-zero digit (0 for the zero scalar).
static inline int sc_wnaf(int8_t naf[256], const Sc& k, int w) {
  uint64_t x[5] = {k.v[0], k.v[1], k.v[2], k.v[3], 0};
  std::memset(naf, 0, 256);
  const uint64_t width = uint64_t{1} << w;
  const uint64_t mask = width - 1;
  uint64_t carry = 0;
  int top = 0;
  int pos = 0;
  while (pos < 256) {
    const int idx = pos / 64, bit = pos % 64;
    uint64_t buf = x[idx] >> bit;
    if (bit != 0 && bit + w > 64) buf |= x[idx + 1] << (64 - bit);
    const uint64_t window = carry + (buf & mask);
    if ((window & 1) == 0) {
      ++pos;
      continue;
    }
    if (window < width / 2) {
      carry = 0;
      naf[pos] = (int8_t)window;
    } else {
      carry = 1;
      naf[pos] = (int8_t)((int64_t)window - (int64_t)width);
    }
    top = pos + 1;
    pos += w;
  }
  return top;
}

}  // namespace assay::crypto::ed25519_internal
