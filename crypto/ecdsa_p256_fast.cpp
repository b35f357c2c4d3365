// Assay's own P-256 arithmetic for ECDSA verification (the Backend::kPortable batch path).
//
// Field and scalar arithmetic: 4x64-bit limbs, Montgomery form (R = 2^256), CIOS
// multiplication with unsigned __int128. Points: Jacobian coordinates, a = -3 doubling,
// mixed (Jacobian + affine) additions with every exceptional case handled (P == Q doubles,
// P == -Q gives infinity), because verification inputs are attacker-chosen.
//
// Verification computes u1·G + u2·Q without any field inversion and without doublings:
//   * u1·G: fixed-base signed comb over a static table of G (window 8: 33 windows x 128
//     affine multiples j·2^(8i)·G, 264 KiB, built once per process): 32-33 mixed additions.
//   * u2·Q: the same over a per-key table (window 6: 43 windows x 32 affine multiples, 86 KiB),
//     built once the key was used kCombAfterUses times while the process-wide budget
//     (kP256CombBudgetBytes) lasts: 43 mixed additions. Keys without a table are verified by
//     OpenSSL (crypto/ecdsa_p256.cpp): with doublings this portable C code is not faster.
//   * The result (X, Y, Z) is compared in Jacobian coordinates: r·Z^2 == X, or
//     (r + n)·Z^2 == X when r + n < p (the affine x may exceed n).
// The s^-1 of a whole span of signatures are computed with Montgomery's trick: one modular
// inversion (binary extended Euclid, mod n) per chunk of up to kChunk signatures.
// Everything here works on public data (keys, signatures, messages): no constant-time needs.

#include <x86intrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "crypto/cpu.hpp"
#include "crypto/ec_engine.hpp"
#include "crypto/ecdsa_p256_internal.hpp"

namespace assay::crypto::detail {
namespace {

using u64 = uint64_t;
using u128 = unsigned __int128;

struct Mod {
  u64 m[4];
  u64 m0inv;  // -m^-1 mod 2^64
  u64 rr[4];  // 2^512 mod m
};

constexpr Mod kP = {{0xffffffffffffffffULL, 0x00000000ffffffffULL, 0x0000000000000000ULL,
                     0xffffffff00000001ULL},
                    1,
                    {0x0000000000000003ULL, 0xfffffffbffffffffULL, 0xfffffffffffffffeULL,
                     0x00000004fffffffdULL}};
constexpr Mod kN = {{0xf3b9cac2fc632551ULL, 0xbce6faada7179e84ULL, 0xffffffffffffffffULL,
                     0xffffffff00000000ULL},
                    0xccd1c8aaee00bc4fULL,
                    {0x83244c95be79eea2ULL, 0x4699799c49bd6fa6ULL, 0x2845b2392b6bec59ULL,
                     0x66e12d94f3d95620ULL}};
constexpr u64 kGx[4] = {0xf4a13945d898c296ULL, 0x77037d812deb33a0ULL, 0xf8bce6e563a440f2ULL,
                        0x6b17d1f2e12c4247ULL};
constexpr u64 kGy[4] = {0xcbb6406837bf51f5ULL, 0x2bce33576b315eceULL, 0x8ee7eb4a7c0f9e16ULL,
                        0x4fe342e2fe1a7f9bULL};

struct Fe {
  u64 v[4];
};

inline bool is_zero(const Fe& a) { return (a.v[0] | a.v[1] | a.v[2] | a.v[3]) == 0; }
inline bool equal(const Fe& a, const Fe& b) {
  return ((a.v[0] ^ b.v[0]) | (a.v[1] ^ b.v[1]) | (a.v[2] ^ b.v[2]) | (a.v[3] ^ b.v[3])) == 0;
}

// r = a - m if (hi || a >= m) else a. Inputs: (hi:a) < 2m.
template <const Mod& M>
inline void final_sub(u64 r[4], const u64 a[4], u64 hi) {
  u64 d[4];
  u64 borrow = 0;
  for (int j = 0; j < 4; ++j) {
    const u128 x = static_cast<u128>(a[j]) - M.m[j] - borrow;
    d[j] = static_cast<u64>(x);
    borrow = static_cast<u64>(x >> 64) & 1;
  }
  const bool take = hi != 0 || borrow == 0;
  for (int j = 0; j < 4; ++j) r[j] = take ? d[j] : a[j];
}

// Montgomery multiplication: r = a·b·2^-256 mod m, for a < 2^256, b < m. Output < m.
template <const Mod& M>
[[gnu::always_inline]] inline void mont_mul(u64 r[4], const u64 a[4], const u64 b[4]) {
  u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const u64 bi = b[i];
    u128 c = static_cast<u128>(a[0]) * bi + t0;
    t0 = static_cast<u64>(c);
    c = (c >> 64) + static_cast<u128>(a[1]) * bi + t1;
    t1 = static_cast<u64>(c);
    c = (c >> 64) + static_cast<u128>(a[2]) * bi + t2;
    t2 = static_cast<u64>(c);
    c = (c >> 64) + static_cast<u128>(a[3]) * bi + t3;
    t3 = static_cast<u64>(c);
    c = (c >> 64) + t4;
    t4 = static_cast<u64>(c);
    const u64 t5 = static_cast<u64>(c >> 64);
    const u64 q = t0 * M.m0inv;
    c = static_cast<u128>(q) * M.m[0] + t0;
    c = (c >> 64) + static_cast<u128>(q) * M.m[1] + t1;
    t0 = static_cast<u64>(c);
    c = (c >> 64) + static_cast<u128>(q) * M.m[2] + t2;
    t1 = static_cast<u64>(c);
    c = (c >> 64) + static_cast<u128>(q) * M.m[3] + t3;
    t2 = static_cast<u64>(c);
    c = (c >> 64) + t4;
    t3 = static_cast<u64>(c);
    t4 = t5 + static_cast<u64>(c >> 64);
  }
  const u64 t[4] = {t0, t1, t2, t3};
  final_sub<M>(r, t, t4);
}

template <const Mod& M>
inline void mod_add(u64 r[4], const u64 a[4], const u64 b[4]) {
  u64 s[4];
  u64 carry = 0;
  for (int j = 0; j < 4; ++j) {
    const u128 x = static_cast<u128>(a[j]) + b[j] + carry;
    s[j] = static_cast<u64>(x);
    carry = static_cast<u64>(x >> 64);
  }
  final_sub<M>(r, s, carry);
}

template <const Mod& M>
inline void mod_sub(u64 r[4], const u64 a[4], const u64 b[4]) {
  u64 d[4];
  u64 borrow = 0;
  for (int j = 0; j < 4; ++j) {
    const u128 x = static_cast<u128>(a[j]) - b[j] - borrow;
    d[j] = static_cast<u64>(x);
    borrow = static_cast<u64>(x >> 64) & 1;
  }
  const u64 mask = 0 - borrow;
  u64 carry = 0;
  for (int j = 0; j < 4; ++j) {
    const u128 x = static_cast<u128>(d[j]) + (M.m[j] & mask) + carry;
    r[j] = static_cast<u64>(x);
    carry = static_cast<u64>(x >> 64);
  }
}

template <const Mod& M>
inline void to_mont(u64 r[4], const u64 a[4]) {
  mont_mul<M>(r, a, M.rr);
}

template <const Mod& M>
inline void from_mont(u64 r[4], const u64 a[4]) {
  static constexpr u64 kOne[4] = {1, 0, 0, 0};
  mont_mul<M>(r, a, kOne);
}

// Variable-time binary extended Euclid: r = a^-1 mod n for plain a in [1, n-1]. Inputs are
// public (products of signature s values), so variable time is fine; it is ~3x faster than
// Fermat with the generic Montgomery multiplication.
inline bool is_one(const u64 a[4]) { return a[0] == 1 && (a[1] | a[2] | a[3]) == 0; }
inline void shr1(u64 a[4], u64 top) {
  a[0] = (a[0] >> 1) | (a[1] << 63);
  a[1] = (a[1] >> 1) | (a[2] << 63);
  a[2] = (a[2] >> 1) | (a[3] << 63);
  a[3] = (a[3] >> 1) | (top << 63);
}
// x = x / 2 mod n (x < n).
inline void half_mod_n(u64 x[4]) {
  u64 top = 0;
  if (x[0] & 1) {
    unsigned char c = 0;
    unsigned long long t;
    c = _addcarry_u64(c, x[0], kN.m[0], &t);
    x[0] = t;
    c = _addcarry_u64(c, x[1], kN.m[1], &t);
    x[1] = t;
    c = _addcarry_u64(c, x[2], kN.m[2], &t);
    x[2] = t;
    c = _addcarry_u64(c, x[3], kN.m[3], &t);
    x[3] = t;
    top = c;
  }
  shr1(x, top);
}
inline void sub_plain(u64 a[4], const u64 b[4]) {
  unsigned char c = 0;
  unsigned long long t;
  for (int j = 0; j < 4; ++j) {
    c = _subborrow_u64(c, a[j], b[j], &t);
    a[j] = t;
  }
}
bool geq4(const u64 a[4], const u64 b[4]) {
  for (int j = 3; j >= 0; --j) {
    if (a[j] != b[j]) return a[j] > b[j];
  }
  return true;
}
void n_inv_plain(u64 r[4], const u64 a[4]) {
  u64 u[4] = {a[0], a[1], a[2], a[3]};
  u64 v[4] = {kN.m[0], kN.m[1], kN.m[2], kN.m[3]};
  u64 x1[4] = {1, 0, 0, 0}, x2[4] = {0, 0, 0, 0};
  while (!is_one(u) && !is_one(v)) {
    while ((u[0] & 1) == 0) {
      shr1(u, 0);
      half_mod_n(x1);
    }
    while ((v[0] & 1) == 0) {
      shr1(v, 0);
      half_mod_n(x2);
    }
    if (geq4(u, v)) {
      sub_plain(u, v);
      mod_sub<kN>(x1, x1, x2);
    } else {
      sub_plain(v, u);
      mod_sub<kN>(x2, x2, x1);
    }
  }
  std::memcpy(r, is_one(u) ? x1 : x2, 32);
}

// ---- field (mod p) arithmetic, specialised for p = 2^256 - 2^224 + 2^192 + 2^96 - 1 ----------
// Montgomery reduction needs no multiplications by p's low limbs: since -p^-1 = 1 mod 2^64,
// q = t0 and (t + q·p) / 2^64 = (t >> 64) + q·2^32 + q·p3·2^128 with p3 = 2^64 - 2^32 + 1.

[[gnu::always_inline]] inline u64 addc(u64 a, u64 b, unsigned char& c) {
  unsigned long long r;
  c = _addcarry_u64(c, a, b, &r);
  return r;
}
[[gnu::always_inline]] inline u64 subb(u64 a, u64 b, unsigned char& c) {
  unsigned long long r;
  c = _subborrow_u64(c, a, b, &r);
  return r;
}

// r = (top·2^256 + t) mod p for a value < 2p.
[[gnu::always_inline]] inline void p_final(u64 r[4], const u64 t[4], u64 top) {
  unsigned char b = 0;
  u64 d0 = subb(t[0], kP.m[0], b);
  u64 d1 = subb(t[1], kP.m[1], b);
  u64 d2 = subb(t[2], kP.m[2], b);
  u64 d3 = subb(t[3], kP.m[3], b);
  const u64 take = 0 - static_cast<u64>((top != 0) | (b == 0));
  r[0] = (d0 & take) | (t[0] & ~take);
  r[1] = (d1 & take) | (t[1] & ~take);
  r[2] = (d2 & take) | (t[2] & ~take);
  r[3] = (d3 & take) | (t[3] & ~take);
}

// Montgomery-reduces the 512-bit t (t < p·2^256) into r < p.
[[gnu::always_inline]] inline void p_reduce(u64 r[4], u64 t[8]) {
  u64 top = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const u64 q = t[i];
    const u128 m = static_cast<u128>(q) * 0xffffffff00000001ULL;
    unsigned char c = 0;
    t[i + 1] = addc(t[i + 1], q << 32, c);
    t[i + 2] = addc(t[i + 2], q >> 32, c);
    t[i + 3] = addc(t[i + 3], static_cast<u64>(m), c);
    t[i + 4] = addc(t[i + 4], static_cast<u64>(m >> 64), c);
#pragma GCC unroll 3
    for (int k = i + 5; k < 8; ++k) t[k] = addc(t[k], 0, c);
    top += c;
  }
  p_final(r, t + 4, top);
}

[[gnu::always_inline]] inline void fmul(Fe& r, const Fe& a, const Fe& b) {
  u64 t[8];
  {
    u128 x = static_cast<u128>(a.v[0]) * b.v[0];
    t[0] = static_cast<u64>(x);
    x = (x >> 64) + static_cast<u128>(a.v[0]) * b.v[1];
    t[1] = static_cast<u64>(x);
    x = (x >> 64) + static_cast<u128>(a.v[0]) * b.v[2];
    t[2] = static_cast<u64>(x);
    x = (x >> 64) + static_cast<u128>(a.v[0]) * b.v[3];
    t[3] = static_cast<u64>(x);
    t[4] = static_cast<u64>(x >> 64);
  }
#pragma GCC unroll 3
  for (int i = 1; i < 4; ++i) {
    const u64 ai = a.v[i];
    u128 x = static_cast<u128>(ai) * b.v[0] + t[i];
    t[i] = static_cast<u64>(x);
    x = (x >> 64) + static_cast<u128>(ai) * b.v[1] + t[i + 1];
    t[i + 1] = static_cast<u64>(x);
    x = (x >> 64) + static_cast<u128>(ai) * b.v[2] + t[i + 2];
    t[i + 2] = static_cast<u64>(x);
    x = (x >> 64) + static_cast<u128>(ai) * b.v[3] + t[i + 3];
    t[i + 3] = static_cast<u64>(x);
    t[i + 4] = static_cast<u64>(x >> 64);
  }
  p_reduce(r.v, t);
}

[[gnu::always_inline]] inline void fsqr(Fe& r, const Fe& a) {
  const u64 a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3];
  // Cross products a_i a_j (i < j).
  u64 t[8];
  u128 x = static_cast<u128>(a0) * a1;
  t[1] = static_cast<u64>(x);
  x = (x >> 64) + static_cast<u128>(a0) * a2;
  t[2] = static_cast<u64>(x);
  x = (x >> 64) + static_cast<u128>(a0) * a3;
  t[3] = static_cast<u64>(x);
  t[4] = static_cast<u64>(x >> 64);
  x = static_cast<u128>(a1) * a2 + t[3];
  t[3] = static_cast<u64>(x);
  x = (x >> 64) + static_cast<u128>(a1) * a3 + t[4];
  t[4] = static_cast<u64>(x);
  t[5] = static_cast<u64>(x >> 64);
  x = static_cast<u128>(a2) * a3 + t[5];
  t[5] = static_cast<u64>(x);
  t[6] = static_cast<u64>(x >> 64);
  // Double.
  t[7] = t[6] >> 63;
  t[6] = (t[6] << 1) | (t[5] >> 63);
  t[5] = (t[5] << 1) | (t[4] >> 63);
  t[4] = (t[4] << 1) | (t[3] >> 63);
  t[3] = (t[3] << 1) | (t[2] >> 63);
  t[2] = (t[2] << 1) | (t[1] >> 63);
  t[1] = t[1] << 1;
  // Add squares.
  const u128 s0 = static_cast<u128>(a0) * a0, s1 = static_cast<u128>(a1) * a1,
             s2 = static_cast<u128>(a2) * a2, s3 = static_cast<u128>(a3) * a3;
  t[0] = static_cast<u64>(s0);
  unsigned char c = 0;
  t[1] = addc(t[1], static_cast<u64>(s0 >> 64), c);
  t[2] = addc(t[2], static_cast<u64>(s1), c);
  t[3] = addc(t[3], static_cast<u64>(s1 >> 64), c);
  t[4] = addc(t[4], static_cast<u64>(s2), c);
  t[5] = addc(t[5], static_cast<u64>(s2 >> 64), c);
  t[6] = addc(t[6], static_cast<u64>(s3), c);
  t[7] = addc(t[7], static_cast<u64>(s3 >> 64), c);
  p_reduce(r.v, t);
}

[[gnu::always_inline]] inline void fadd(Fe& r, const Fe& a, const Fe& b) {
  unsigned char c = 0;
  u64 t[4];
  t[0] = addc(a.v[0], b.v[0], c);
  t[1] = addc(a.v[1], b.v[1], c);
  t[2] = addc(a.v[2], b.v[2], c);
  t[3] = addc(a.v[3], b.v[3], c);
  p_final(r.v, t, c);
}

[[gnu::always_inline]] inline void fsub(Fe& r, const Fe& a, const Fe& b) {
  unsigned char bw = 0;
  u64 t0 = subb(a.v[0], b.v[0], bw);
  u64 t1 = subb(a.v[1], b.v[1], bw);
  u64 t2 = subb(a.v[2], b.v[2], bw);
  u64 t3 = subb(a.v[3], b.v[3], bw);
  const u64 mask = 0 - static_cast<u64>(bw);
  unsigned char c = 0;
  r.v[0] = addc(t0, kP.m[0] & mask, c);
  r.v[1] = addc(t1, kP.m[1] & mask, c);
  r.v[2] = addc(t2, kP.m[2] & mask, c);
  r.v[3] = addc(t3, kP.m[3] & mask, c);
}

// 1 in Montgomery form: 2^256 mod p.
constexpr Fe kOneP = {{0x0000000000000001ULL, 0xffffffff00000000ULL, 0xffffffffffffffffULL,
                       0x00000000fffffffeULL}};

// ---- points --------------------------------------------------------------------------------
struct Jac {
  Fe X, Y, Z;
  bool inf;
};

inline Jac jac_infinity() { return Jac{{}, {}, {}, true}; }
inline Jac jac_from_affine(const P256Affine& a) {
  Jac r;
  std::memcpy(r.X.v, a.x, 32);
  std::memcpy(r.Y.v, a.y, 32);
  r.Z = kOneP;
  r.inf = false;
  return r;
}

// dbl-2001-b (a = -3). In place.
inline void jac_dbl(Jac& p) {
  if (p.inf) return;
  Fe delta, gamma, beta, alpha, t0, t1;
  fsqr(delta, p.Z);
  fsqr(gamma, p.Y);
  fmul(beta, p.X, gamma);
  fsub(t0, p.X, delta);
  fadd(t1, p.X, delta);
  fmul(alpha, t0, t1);
  fadd(t0, alpha, alpha);
  fadd(alpha, t0, alpha);  // alpha = 3(X-delta)(X+delta)
  // Z3 = (Y+Z)^2 - gamma - delta
  fadd(t0, p.Y, p.Z);
  fsqr(t1, t0);
  fsub(t1, t1, gamma);
  fsub(p.Z, t1, delta);
  // X3 = alpha^2 - 8 beta
  Fe beta4;
  fadd(beta4, beta, beta);
  fadd(beta4, beta4, beta4);
  fsqr(t0, alpha);
  fadd(t1, beta4, beta4);
  fsub(p.X, t0, t1);
  // Y3 = alpha (4 beta - X3) - 8 gamma^2
  fsub(t0, beta4, p.X);
  fmul(t1, alpha, t0);
  fsqr(t0, gamma);
  fadd(t0, t0, t0);
  fadd(t0, t0, t0);
  fadd(t0, t0, t0);
  fsub(p.Y, t1, t0);
}

// p += (x, y) affine (madd-2007-bl), all exceptional cases handled.
inline void jac_add_affine(Jac& p, const Fe& x2, const Fe& y2) {
  if (p.inf) {
    p.X = x2;
    p.Y = y2;
    p.Z = kOneP;
    p.inf = false;
    return;
  }
  Fe z1z1, u2, s2, h, rr, t0;
  fsqr(z1z1, p.Z);
  fmul(u2, x2, z1z1);
  fmul(t0, p.Z, z1z1);
  fmul(s2, y2, t0);
  fsub(h, u2, p.X);
  fsub(rr, s2, p.Y);
  if (is_zero(h)) {
    if (is_zero(rr)) {
      jac_dbl(p);
    } else {
      p.inf = true;
    }
    return;
  }
  Fe hh, i, j, v, x3, y3;
  fsqr(hh, h);
  fadd(i, hh, hh);
  fadd(i, i, i);
  fmul(j, h, i);
  fadd(rr, rr, rr);
  fmul(v, p.X, i);
  // X3 = r^2 - J - 2V
  fsqr(x3, rr);
  fsub(x3, x3, j);
  fsub(x3, x3, v);
  fsub(x3, x3, v);
  // Y3 = r (V - X3) - 2 Y1 J
  fsub(t0, v, x3);
  fmul(y3, rr, t0);
  fmul(t0, p.Y, j);
  fadd(t0, t0, t0);
  fsub(y3, y3, t0);
  // Z3 = (Z1 + H)^2 - Z1Z1 - HH
  fadd(t0, p.Z, h);
  fsqr(t0, t0);
  fsub(t0, t0, z1z1);
  fsub(p.Z, t0, hh);
  p.X = x3;
  p.Y = y3;
}

// r = a + b (add-2007-bl), all exceptional cases handled. r may alias a or b.
void jac_add(Jac& r, const Jac& a, const Jac& b) {
  if (a.inf) {
    r = b;
    return;
  }
  if (b.inf) {
    r = a;
    return;
  }
  Fe z1z1, z2z2, u1, u2, s1, s2, h, rr, t0;
  fsqr(z1z1, a.Z);
  fsqr(z2z2, b.Z);
  fmul(u1, a.X, z2z2);
  fmul(u2, b.X, z1z1);
  fmul(t0, b.Z, z2z2);
  fmul(s1, a.Y, t0);
  fmul(t0, a.Z, z1z1);
  fmul(s2, b.Y, t0);
  fsub(h, u2, u1);
  fsub(rr, s2, s1);
  if (is_zero(h)) {
    if (is_zero(rr)) {
      Jac d = a;
      jac_dbl(d);
      r = d;
    } else {
      r.inf = true;
    }
    return;
  }
  Fe i, j, v, x3, y3, z3;
  fadd(i, h, h);
  fsqr(i, i);
  fmul(j, h, i);
  fadd(rr, rr, rr);
  fmul(v, u1, i);
  fsqr(x3, rr);
  fsub(x3, x3, j);
  fsub(x3, x3, v);
  fsub(x3, x3, v);
  fsub(t0, v, x3);
  fmul(y3, rr, t0);
  fmul(t0, s1, j);
  fadd(t0, t0, t0);
  fsub(y3, y3, t0);
  fadd(t0, a.Z, b.Z);
  fsqr(t0, t0);
  fsub(t0, t0, z1z1);
  fsub(t0, t0, z2z2);
  fmul(z3, t0, h);
  r.X = x3;
  r.Y = y3;
  r.Z = z3;
  r.inf = false;
}

// r = a^(p-2) = a^-1 (Montgomery domain), a != 0. 4-bit fixed window.
void fe_inv(Fe& r, const Fe& a) {
  const u64 e[4] = {kP.m[0] - 2, kP.m[1], kP.m[2], kP.m[3]};
  Fe tbl[16];
  tbl[0] = kOneP;
  tbl[1] = a;
  for (int i = 2; i < 16; ++i) fmul(tbl[i], tbl[i - 1], a);
  Fe acc = kOneP;
  for (int nib = 63; nib >= 0; --nib) {
    for (int k = 0; k < 4; ++k) fsqr(acc, acc);
    const unsigned d = static_cast<unsigned>(e[nib / 16] >> (4 * (nib % 16))) & 15u;
    if (d != 0) fmul(acc, acc, tbl[d]);
  }
  r = acc;
}

// Converts finite Jacobian points to affine with one field inversion (Montgomery's trick).
void batch_to_affine(const Jac* in, size_t n, P256Affine* out) {
  if (n == 0) return;
  std::vector<Fe> prefix(n);
  prefix[0] = in[0].Z;
  for (size_t k = 1; k < n; ++k) fmul(prefix[k], prefix[k - 1], in[k].Z);
  Fe inv;
  fe_inv(inv, prefix[n - 1]);
  for (size_t k = n; k-- > 0;) {
    Fe zinv;
    if (k > 0) {
      fmul(zinv, inv, prefix[k - 1]);
      fmul(inv, inv, in[k].Z);
    } else {
      zinv = inv;
    }
    Fe z2, z3, x, y;
    fsqr(z2, zinv);
    fmul(z3, z2, zinv);
    fmul(x, in[k].X, z2);
    fmul(y, in[k].Y, z3);
    std::memcpy(out[k].x, x.v, 32);
    std::memcpy(out[k].y, y.v, 32);
  }
}

// Comb table: out[i * per + (j - 1)] = j · 2^(w·i) · P for i < windows, 1 <= j <= per
// (per = 2^(w-1)). P must have order n (so no multiple is infinity).
// Whether comb tables of keys may be built by the AVX-512 engine (tests compare both builders).
std::atomic<bool> g_vector_comb{true};

void build_comb(const P256Affine& p, int w, int windows, P256Affine* out) {
  const int per = 1 << (w - 1);
  // The windows' bases 2^(w·i)·P, made affine together (one inversion), so that every row
  // entry costs a mixed addition instead of a full one.
  std::vector<Jac> bases(static_cast<size_t>(windows));
  Jac b = jac_from_affine(p);
  for (int i = 0; i < windows; ++i) {
    bases[static_cast<size_t>(i)] = b;
    for (int k = 0; k < w; ++k) jac_dbl(b);
  }
  std::vector<P256Affine> affine(static_cast<size_t>(windows));
  batch_to_affine(bases.data(), bases.size(), affine.data());
  if (w == 6 && windows == 43 && g_vector_comb.load(std::memory_order_relaxed) &&
      backend_supported(Backend::kAvx512)) {
    // The rows with the multi-buffer engine (8 windows per vector): the same values, about 4x
    // faster to build.
    ec_p256_comb_rows_avx512(affine.data(), out);
    return;
  }
  std::vector<Jac> pts(static_cast<size_t>(windows) * per);
  for (int i = 0; i < windows; ++i) {
    Jac* row = &pts[static_cast<size_t>(i) * per];
    Fe bx, by;
    std::memcpy(bx.v, affine[static_cast<size_t>(i)].x, 32);
    std::memcpy(by.v, affine[static_cast<size_t>(i)].y, 32);
    row[0] = jac_from_affine(affine[static_cast<size_t>(i)]);
    for (int j = 1; j < per; ++j) {
      row[j] = row[j - 1];
      jac_add_affine(row[j], bx, by);  // j = 1 doubles (all exceptional cases handled)
    }
  }
  batch_to_affine(pts.data(), pts.size(), out);
}

// Signed fixed-window recoding: k = sum d_i 2^(w·i), d_i in [-(2^(w-1) - 1), 2^(w-1)].
// k < 2^256; windows·w >= 257 so no carry is left over.
void recode_signed(const u64 k[4], int w, int windows, int16_t* digits) {
  unsigned carry = 0;
  const unsigned full = 1u << w, half = 1u << (w - 1);
  for (int i = 0; i < windows; ++i) {
    const int bit = w * i;
    unsigned v = 0;
    if (bit < 256) {
      const int limb = bit / 64, sh = bit % 64;
      u64 x = k[limb] >> sh;
      if (sh + w > 64 && limb < 3) x |= k[limb + 1] << (64 - sh);
      v = static_cast<unsigned>(x) & (full - 1);
    }
    v += carry;
    if (v > half) {
      digits[i] = static_cast<int16_t>(static_cast<int>(v) - static_cast<int>(full));
      carry = 1;
    } else {
      digits[i] = static_cast<int16_t>(v);
      carry = 0;
    }
  }
}

constexpr int kGW = 8, kGWindows = 33, kGPer = 1 << (kGW - 1);
constexpr int kQW = 6, kQWindows = 43, kQPer = 1 << (kQW - 1);

const P256Affine* g_table() {
  static const std::vector<P256Affine> table = [] {
    P256Affine g;
    to_mont<kP>(g.x, kGx);
    to_mont<kP>(g.y, kGy);
    std::vector<P256Affine> t(static_cast<size_t>(kGWindows) * kGPer);
    build_comb(g, kGW, kGWindows, t.data());
    return t;
  }();
  return table.data();
}

std::atomic<size_t> g_comb_bytes{0};
std::atomic<uint32_t> g_comb_after{kCombAfterUses};
std::atomic<uint32_t> g_small_after{kSmallAfterUses};

// Small per-key table: t[b - 1] = sum over set bits j of b of 2^(64 j)·Q, b = 1..15.
void build_small(const P256Affine& q, P256Affine* out) {
  Jac base[4];
  base[0] = jac_from_affine(q);
  for (int j = 1; j < 4; ++j) {
    base[j] = base[j - 1];
    for (int k = 0; k < 64; ++k) jac_dbl(base[j]);
  }
  Jac pts[15];
  for (unsigned b = 1; b < 16; ++b) {
    const int low = __builtin_ctz(b);
    const unsigned rest = b & (b - 1);
    if (rest == 0) {
      pts[b - 1] = base[low];
    } else {
      jac_add(pts[b - 1], pts[rest - 1], base[low]);
    }
  }
  batch_to_affine(pts, 15, out);
}

// acc = k·Q with the small table (Lim-Lee, 4 teeth). acc must be infinity on entry.
void small_mul(Jac& acc, const P256Affine* t, const u64 k[4]) {
  for (int i = 63; i >= 0; --i) {
    jac_dbl(acc);
    const unsigned idx = static_cast<unsigned>((k[0] >> i) & 1) |
                         static_cast<unsigned>(((k[1] >> i) & 1) << 1) |
                         static_cast<unsigned>(((k[2] >> i) & 1) << 2) |
                         static_cast<unsigned>(((k[3] >> i) & 1) << 3);
    if (idx != 0) {
      Fe x, y;
      std::memcpy(x.v, t[idx - 1].x, 32);
      std::memcpy(y.v, t[idx - 1].y, 32);
      jac_add_affine(acc, x, y);
    }
  }
}

inline void add_digit(Jac& acc, const P256Affine& pt, int d) {
  Fe x, y;
  std::memcpy(x.v, pt.x, 32);
  std::memcpy(y.v, pt.y, 32);
  if (d < 0) {
    Fe zero{{0, 0, 0, 0}};
    fsub(y, zero, y);
  }
  jac_add_affine(acc, x, y);
}

// acc += sum of comb table entries for scalar k.
void comb_mul_add(Jac& acc, const P256Affine* table, int w, int windows, const u64 k[4]) {
  int16_t digits[64];
  recode_signed(k, w, windows, digits);
  const int per = 1 << (w - 1);
  for (int i = 0; i < windows; ++i) {
    const int d = digits[i];
    if (d == 0) continue;
    add_digit(acc, table[static_cast<size_t>(i) * per + static_cast<size_t>(d < 0 ? -d : d) - 1],
              d);
  }
}

}  // namespace

namespace {

// Builds the key's comb table once (if the process-wide budget allows); true if it has one.
bool ensure_comb(const P256KeyState& st) {
  std::call_once(st.comb_once, [&] {
    const size_t bytes = sizeof(P256Affine) * kQWindows * kQPer;
    if (g_comb_bytes.fetch_add(bytes) + bytes > kP256CombBudgetBytes) {
      g_comb_bytes.fetch_sub(bytes);
      return;  // over budget: this key stays without a comb table
    }
    auto t = std::make_unique<P256Affine[]>(static_cast<size_t>(kQWindows) * kQPer);
    build_comb(st.q, kQW, kQWindows, t.get());
    st.comb_bytes = bytes;
    st.comb_storage = std::move(t);
    st.comb.store(st.comb_storage.get(), std::memory_order_release);
  });
  return st.comb.load(std::memory_order_acquire) != nullptr;
}

}  // namespace

const P256Affine* p256_key_comb(const P256KeyState& st) {
  if (const P256Affine* c = st.comb.load(std::memory_order_acquire)) return c;
  const uint32_t use = st.uses.fetch_add(1, std::memory_order_relaxed) + 1;
  const uint32_t comb_after = g_comb_after.load(std::memory_order_relaxed);
  if (comb_after != UINT32_MAX && use >= comb_after && ensure_comb(st)) {
    return st.comb.load(std::memory_order_acquire);
  }
  return nullptr;
}

bool p256_key_ready(const P256KeyState& st) {
  if (st.comb.load(std::memory_order_acquire) != nullptr) return true;
  const uint32_t use = st.uses.fetch_add(1, std::memory_order_relaxed) + 1;
  const uint32_t small_after = g_small_after.load(std::memory_order_relaxed);
  const uint32_t comb_after = g_comb_after.load(std::memory_order_relaxed);
  if (comb_after != UINT32_MAX && use >= comb_after && ensure_comb(st)) return true;
  if (st.small.load(std::memory_order_acquire) != nullptr) return true;
  if (small_after == UINT32_MAX || use < small_after) return false;
  std::call_once(st.small_once, [&] {
    auto t = std::make_unique<P256Affine[]>(15);
    build_small(st.q, t.get());
    st.small_storage = std::move(t);
    st.small.store(st.small_storage.get(), std::memory_order_release);
  });
  return true;
}

namespace {

inline void load_be(u64 r[4], const uint8_t b[32]) {
  for (int j = 0; j < 4; ++j) {
    u64 x = 0;
    for (int k = 0; k < 8; ++k) x = (x << 8) | b[(3 - j) * 8 + k];
    r[j] = x;
  }
}

// a >= b ?
inline bool geq(const u64 a[4], const u64 b[4]) {
  for (int j = 3; j >= 0; --j) {
    if (a[j] != b[j]) return a[j] > b[j];
  }
  return true;
}

// Accepts iff acc is finite and x(acc) mod n == r, with r in [1, n-1].
bool check_r(const Jac& acc, const u64 r[4]) {
  if (acc.inf) return false;
  Fe z2, rm, t;
  fsqr(z2, acc.Z);
  to_mont<kP>(rm.v, r);
  fmul(t, rm, z2);
  if (equal(t, acc.X)) return true;
  // r + n < p ?
  u64 rn[4];
  u64 carry = 0;
  for (int j = 0; j < 4; ++j) {
    const u128 x = static_cast<u128>(r[j]) + kN.m[j] + carry;
    rn[j] = static_cast<u64>(x);
    carry = static_cast<u64>(x >> 64);
  }
  if (carry != 0 || geq(rn, kP.m)) return false;
  to_mont<kP>(rm.v, rn);
  fmul(t, rm, z2);
  return equal(t, acc.X);
}

constexpr size_t kChunk = 128;

}  // namespace

P256KeyState::~P256KeyState() {
  if (comb_bytes != 0) g_comb_bytes.fetch_sub(comb_bytes);
}

size_t p256_comb_table_bytes() { return g_comb_bytes.load(); }

const P256Affine* p256_g_table() {
  return g_table();
}

void p256_set_vector_comb_build(bool on) {
  g_vector_comb.store(on);
}

void p256_build_comb_for_test(const uint8_t uncompressed[65], P256Affine* out) {
  P256KeyState st;
  p256_key_state_init(st, uncompressed);
  build_comb(st.q, kQW, kQWindows, out);
}

void p256_set_table_policy(uint32_t small_after, uint32_t comb_after) {
  g_small_after.store(small_after);
  g_comb_after.store(comb_after);
}

void p256_key_state_init(P256KeyState& st, const uint8_t uncompressed[65]) {
  u64 x[4], y[4];
  load_be(x, uncompressed + 1);
  load_be(y, uncompressed + 33);
  std::memcpy(st.qx_plain, x, 32);
  std::memcpy(st.qy_plain, y, 32);
  to_mont<kP>(st.q.x, x);
  to_mont<kP>(st.q.y, y);
}

void p256_verify_items(const P256Item* items, size_t n, uint8_t* verdicts) {
  const P256Affine* gt = g_table();
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    u64 sm[kChunk][4], prefix[kChunk][4];
    for (size_t i = 0; i < m; ++i) {
      u64 s[4];
      load_be(s, items[base + i].s);
      to_mont<kN>(sm[i], s);
      if (i == 0) {
        std::memcpy(prefix[0], sm[0], 32);
      } else {
        mont_mul<kN>(prefix[i], prefix[i - 1], sm[i]);
      }
    }
    // prefix[m-1] = P·R (Montgomery form). Plain inverse gives P^-1·R^-1; two
    // multiplications by R^2 (Montgomery) turn it into P^-1·R.
    u64 inv[4];
    n_inv_plain(inv, prefix[m - 1]);
    mont_mul<kN>(inv, inv, kN.rr);
    mont_mul<kN>(inv, inv, kN.rr);
    // Walk back: w_i = inv · prefix[i-1]; inv ·= s_i. Stored in place of prefix[i].
    for (size_t i = m; i-- > 0;) {
      if (i > 0) {
        u64 w[4];
        mont_mul<kN>(w, inv, prefix[i - 1]);
        mont_mul<kN>(inv, inv, sm[i]);
        std::memcpy(prefix[i], w, 32);
      } else {
        std::memcpy(prefix[0], inv, 32);
      }
    }
    for (size_t i = 0; i < m; ++i) {
      const P256Item& it = items[base + i];
      u64 e[4], r[4], u1[4], u2[4];
      load_be(e, it.e);
      if (geq(e, kN.m)) {
        u64 t[4];
        mod_sub<kN>(t, e, kN.m);  // e < 2^256 < 2n: one subtraction reduces
        std::memcpy(e, t, 32);
      }
      load_be(r, it.r);
      // Montgomery product of a plain value with w·R gives the plain product.
      mont_mul<kN>(u1, e, prefix[i]);
      mont_mul<kN>(u2, r, prefix[i]);
      Jac acc = jac_infinity();
      if (const P256Affine* comb = it.key->comb.load(std::memory_order_acquire)) {
        comb_mul_add(acc, comb, kQW, kQWindows, u2);
      } else {
        small_mul(acc, it.key->small.load(std::memory_order_acquire), u2);  // doubles acc
      }
      comb_mul_add(acc, gt, kGW, kGWindows, u1);  // after the doublings
      verdicts[base + i] = check_r(acc, r) ? 1 : 0;
    }
  }
}

}  // namespace assay::crypto::detail
