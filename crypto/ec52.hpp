#pragma once
/// \file Internal (not installed): prime-field and short-Weierstrass point arithmetic in radix
/// 2^52 (Montgomery form, R = 2^(52·N)), written once over a "lane" type, and the ECDSA
/// verification engine built on it. Included by crypto/ec_engine.cpp (Lane1: one 64-bit lane,
/// products emulated with unsigned __int128) and crypto/ec_engine_avx512.cpp (LaneZmm: eight
/// lanes, vpmadd52luq/vpmadd52huq). Everything here has internal linkage (anonymous namespace),
/// so the copies compiled with AVX-512 flags can never replace the portable ones at link time.
///
/// Representation and bounds. A field element is N limbs of 52 bits ("normalized": every limb
/// < 2^52, as IFMA requires of its inputs), value < 2^(52N), congruent to the mathematical
/// value; it is not kept fully reduced. Montgomery multiplication returns
/// (a·b + q·p) / R < a·b/R + p. With H = R/p (the headroom), an element bounded by k·p
/// times one bounded by k'·p gives at most (k·k'/H + 1)·p.
///  - P-256 (N = 5, H = 16): little headroom. Subtractions add m·p with a per-site m, and the
///    results of the long add/sub chains are folded back below 1.01·p with
///    2^256 ≡ 2^224 - 2^192 - 2^96 + 1 (mod p) (fold()).
///  - P-384, brainpoolP384r1 (N = 8) and brainpoolP256r1 (N = 6): H >= 2^32, so products
///    of anything these formulas produce are < 1.01·p; fold() is the identity and the
///    subtractions use their own (larger) m.
/// Every call site names both multiples (sub<m_P256, m_generic>), and the bound checker
/// (tests/crypto/ec_bounds_test.cpp) replays the formulas on bounds for both kinds of field
/// and asserts that no value exceeds the representable range, that every subtraction adds at
/// least its subtrahend's bound, and that the loop invariants hold.
///
/// Exceptional cases. The addition formulas are incomplete (P + P, P + (-P), O + P). The
/// engine keeps "not started" lanes (accumulator = O) in a mask and blends instead of adding.
/// Any other exceptional addition has H = 0, which makes Z3 = 0; Z = 0 is absorbing (every
/// later doubling and addition multiplies Z), so a lane whose final Z is 0 mod p went through
/// an exceptional case, and the engine reports it (kEcExact) instead of guessing a verdict.
/// Honest signatures never get there (probability about 2^-250); crafted ones are decided by the
/// exact reference. Doubling is exact: P-256/P-384/brainpool have prime order (no point with
/// y = 0).
///
/// All arithmetic is variable-time: ECDSA verification handles only public data.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crypto/ec_engine.hpp"
#if defined(__AVX512IFMA__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

namespace assay::crypto::detail {
namespace {  // internal linkage on purpose (see the file comment)

using u64 = uint64_t;
using u128 = unsigned __int128;
constexpr u64 kMask52 = (u64{1} << 52) - 1;

// ---------------------------------------------------------------------------------------------
// Lanes.
// ---------------------------------------------------------------------------------------------

/// One 64-bit lane: the portable engine.
struct Lane1 {
  static constexpr int kLanes = 1;
  using R = u64;
  using Mask = uint8_t;
  static constexpr Mask kAll = 1;
  static R zero() { return 0; }
  static R set1(u64 x) { return x; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R and_(R a, R b) { return a & b; }
  static R or_(R a, R b) { return a | b; }
  template <int K>
  static R srli(R a) {
    return a >> K;
  }
  template <int K>
  static R srai(R a) {
    return static_cast<u64>(static_cast<int64_t>(a) >> K);
  }
  template <int K>
  static R slli(R a) {
    return a << K;
  }
  /// acc + low 52 bits of (a mod 2^52)·(b mod 2^52), as vpmadd52luq.
  static R madd52lo(R acc, R a, R b) {
    return acc + (static_cast<u64>(static_cast<u128>(a & kMask52) * (b & kMask52)) & kMask52);
  }
  /// acc + bits 52..103 of (a mod 2^52)·(b mod 2^52), as vpmadd52huq.
  static R madd52hi(R acc, R a, R b) {
    return acc + static_cast<u64>((static_cast<u128>(a & kMask52) * (b & kMask52)) >> 52);
  }
  /// m ? b : a.
  static R select(Mask m, R a, R b) { return (m & 1) ? b : a; }
  static Mask eq(R a, R b) { return a == b ? 1 : 0; }
  /// Lanes whose value, as a signed 64-bit integer, is negative.
  static Mask negative(R a) { return static_cast<int64_t>(a) < 0 ? 1 : 0; }
  static R load(const u64* p) { return *p; }
  static void store(u64* p, R a) { *p = a; }
  /// base[idx] (idx in 64-bit words).
  static R gather(R idx, const u64* base) { return base[idx]; }
  /// The 64-bit word at byte address addr.
  static R gather_abs(R addr) {
    u64 v;
    std::memcpy(&v, reinterpret_cast<const void*>(static_cast<uintptr_t>(addr)), 8);
    return v;
  }
};

#if defined(__AVX512IFMA__) && defined(__AVX512VL__)
/// Eight 64-bit lanes of a zmm register: the AVX-512 IFMA engine.
struct LaneZmm {
  static constexpr int kLanes = 8;
  using R = __m512i;
  using Mask = __mmask8;
  static constexpr Mask kAll = 0xff;
  [[gnu::always_inline]] static R zero() { return _mm512_setzero_si512(); }
  [[gnu::always_inline]] static R set1(u64 x) {
    return _mm512_set1_epi64(static_cast<long long>(x));
  }
  [[gnu::always_inline]] static R add(R a, R b) { return _mm512_add_epi64(a, b); }
  [[gnu::always_inline]] static R sub(R a, R b) { return _mm512_sub_epi64(a, b); }
  [[gnu::always_inline]] static R and_(R a, R b) { return _mm512_and_si512(a, b); }
  [[gnu::always_inline]] static R or_(R a, R b) { return _mm512_or_si512(a, b); }
  template <int K>
  [[gnu::always_inline]] static R srli(R a) {
    return _mm512_srli_epi64(a, K);
  }
  template <int K>
  [[gnu::always_inline]] static R srai(R a) {
    return _mm512_srai_epi64(a, K);
  }
  template <int K>
  [[gnu::always_inline]] static R slli(R a) {
    return _mm512_slli_epi64(a, K);
  }
  [[gnu::always_inline]] static R madd52lo(R acc, R a, R b) {
    return _mm512_madd52lo_epu64(acc, a, b);
  }
  [[gnu::always_inline]] static R madd52hi(R acc, R a, R b) {
    return _mm512_madd52hi_epu64(acc, a, b);
  }
  [[gnu::always_inline]] static R select(Mask m, R a, R b) {
    return _mm512_mask_blend_epi64(m, a, b);
  }
  [[gnu::always_inline]] static Mask eq(R a, R b) { return _mm512_cmpeq_epi64_mask(a, b); }
  [[gnu::always_inline]] static Mask negative(R a) {
    return _mm512_cmplt_epi64_mask(a, _mm512_setzero_si512());
  }
  [[gnu::always_inline]] static R load(const u64* p) { return _mm512_loadu_si512(p); }
  [[gnu::always_inline]] static void store(u64* p, R a) { _mm512_storeu_si512(p, a); }
  [[gnu::always_inline]] static R gather(R idx, const u64* base) {
    return _mm512_i64gather_epi64(idx, reinterpret_cast<const long long*>(base), 8);
  }
  [[gnu::always_inline]] static R gather_abs(R addr) {
    return _mm512_i64gather_epi64(addr, static_cast<const long long*>(nullptr), 1);
  }
};
#endif

// ---------------------------------------------------------------------------------------------
// The field.
// ---------------------------------------------------------------------------------------------

/// GF(p) in radix 2^52, N limbs, over lane type V. kP256: the P-256 prime (special reduction:
/// -p^-1 = 1 mod 2^52, p's limb 0 = 2^52 - 1, limb 2 = 0; and fold()).
template <class V, int N, bool kP256>
struct Field {
  using R = typename V::R;
  using Mask = typename V::Mask;
  static constexpr int kN = N;
  static constexpr bool kIsP256 = kP256;
  struct Fe {
    R l[N];
  };

  const EcFieldConsts& c;

  [[gnu::always_inline]] static R mask52() { return V::set1(kMask52); }

  /// Carries every limb into the next (signed: limbs may be negative after a subtraction);
  /// the value must lie in [0, 2^(52N)).
  [[gnu::always_inline]] static void normalize(Fe& a) {
    const R m = mask52();
#pragma GCC unroll 8
    for (int j = 0; j < N - 1; ++j) {
      const R cy = V::template srai<52>(a.l[j]);
      a.l[j] = V::and_(a.l[j], m);
      a.l[j + 1] = V::add(a.l[j + 1], cy);
    }
  }

  /// Broadcast of 52-bit limbs (each lane the same element).
  static Fe constant(const u64* limbs) {
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::set1(limbs[j]);
    return r;
  }
  Fe one() const {
    return constant(c.one);
  }
  static Fe zero() {
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::zero();
    return r;
  }

  [[gnu::always_inline]] Fe add(const Fe& a, const Fe& b) const {
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::add(a.l[j], b.l[j]);
    normalize(r);
    return r;
  }

  /// a + b without carrying: for a result that only feeds a subtraction (which carries).
  [[gnu::always_inline]] static Fe add_nn(const Fe& a, const Fe& b) {
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::add(a.l[j], b.l[j]);
    return r;
  }

  /// k·a (k = 2, 4, 8) without carrying: for a result that only feeds a subtraction.
  template <int K>
  [[gnu::always_inline]] static Fe mul_small_nn(const Fe& a) {
    static_assert(K == 2 || K == 4 || K == 8, "unsupported small factor");
    constexpr int sh = K == 2 ? 1 : K == 4 ? 2 : 3;
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::template slli<sh>(a.l[j]);
    return r;
  }

  /// a - b + m·p, m = kMp on P-256 and kMg elsewhere; m·p must be >= b. a and b may be
  /// results of add_nn / mul_small_nn (limbs < 2^56).
  template <int kMp, int kMg>
  [[gnu::always_inline]] Fe sub(const Fe& a, const Fe& b) const {
    constexpr int m = kP256 ? kMp : kMg;
    static_assert(m >= 0 && m <= kEcMaxM, "m out of range");
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::sub(V::add(a.l[j], V::set1(c.mp[m][j])), b.l[j]);
    normalize(r);
    return r;
  }

  /// m·p - a.
  template <int kMp, int kMg>
  [[gnu::always_inline]] Fe neg(const Fe& a) const {
    return sub<kMp, kMg>(zero(), a);
  }

  /// k·a for k in {2, 3, 4, 8}.
  template <int K>
  [[gnu::always_inline]] Fe mul_small(const Fe& a) const {
    static_assert(K == 2 || K == 3 || K == 4 || K == 8, "unsupported small factor");
    if constexpr (K == 3) {
      Fe r;
#pragma GCC unroll 8
      for (int j = 0; j < N; ++j) r.l[j] = V::add(V::add(a.l[j], a.l[j]), a.l[j]);
      normalize(r);
      return r;
    } else {
      constexpr int sh = K == 2 ? 1 : K == 4 ? 2 : 3;
      Fe r;
#pragma GCC unroll 8
      for (int j = 0; j < N; ++j) r.l[j] = V::template slli<sh>(a.l[j]);
      normalize(r);
      return r;
    }
  }

  /// P-256: x < 2^260 -> x' ≡ x with x' < 2^256 + 2^228 (< 1.01·p). Identity elsewhere.
  [[gnu::always_inline]] Fe fold(const Fe& a) const {
    if constexpr (!kP256) {
      return a;
    } else {
      const R top = V::template srli<48>(a.l[4]);  // bits 256..259
      Fe r;
      r.l[0] = V::add(a.l[0], top);                        // + top
      r.l[1] = V::sub(a.l[1], V::template slli<44>(top));  // - top·2^96
      r.l[2] = a.l[2];
      r.l[3] = V::sub(a.l[3], V::template slli<36>(top));  // - top·2^192
      r.l[4] = V::add(V::and_(a.l[4], V::set1((u64{1} << 48) - 1)),
                      V::template slli<16>(top));  // + top·2^224
      normalize(r);
      return r;
    }
  }

  /// Montgomery reduction of the 2N product columns t (each < 2^60): t·R^-1 mod p, < t/R + p.
  [[gnu::always_inline]] Fe reduce(R* t) const {
    if constexpr (kP256) {
      // q = t_i mod 2^52 (-p^-1 = 1); t_i + q·p0 = ((t_i >> 52) + q)·2^52 as p0 = 2^52 - 1.
      const R p1 = V::set1(0x00000FFFFFFFFFFFULL), p3 = V::set1(0x0000001000000000ULL),
              p4 = V::set1(0x0000FFFFFFFF0000ULL);
      const R m = mask52();
#pragma GCC unroll 5
      for (int i = 0; i < 5; ++i) {
        const R q = V::and_(t[i], m);
        t[i + 1] = V::add(t[i + 1], V::add(V::template srli<52>(t[i]), q));
        t[i + 1] = V::madd52lo(t[i + 1], q, p1);
        t[i + 2] = V::madd52hi(t[i + 2], q, p1);
        t[i + 3] = V::madd52lo(t[i + 3], q, p3);
        t[i + 4] = V::madd52hi(t[i + 4], q, p3);
        t[i + 4] = V::madd52lo(t[i + 4], q, p4);
        t[i + 5] = V::madd52hi(t[i + 5], q, p4);
      }
    } else {
      const R k0 = V::set1(c.k0);
      R p[N];
#pragma GCC unroll 8
      for (int j = 0; j < N; ++j) p[j] = V::set1(c.p[j]);
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i) {
        const R q = V::madd52lo(V::zero(), t[i], k0);
#pragma GCC unroll 8
        for (int j = 0; j < N; ++j) {
          t[i + j] = V::madd52lo(t[i + j], q, p[j]);
          t[i + j + 1] = V::madd52hi(t[i + j + 1], q, p[j]);
        }
        t[i + 1] = V::add(t[i + 1], V::template srli<52>(t[i]));
      }
    }
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = t[N + j];
    normalize(r);
    return r;
  }

  [[gnu::always_inline]] Fe mul(const Fe& a, const Fe& b) const {
    R t[2 * N];
#pragma GCC unroll 16
    for (int k = 0; k < 2 * N; ++k) t[k] = V::zero();
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < N; ++j) {
        t[i + j] = V::madd52lo(t[i + j], a.l[i], b.l[j]);
        t[i + j + 1] = V::madd52hi(t[i + j + 1], a.l[i], b.l[j]);
      }
    }
    return reduce(t);
  }

  [[gnu::always_inline]] Fe sqr(const Fe& a) const {
    R t[2 * N];
#pragma GCC unroll 16
    for (int k = 0; k < 2 * N; ++k) t[k] = V::zero();
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
#pragma GCC unroll 8
      for (int j = i + 1; j < N; ++j) {
        t[i + j] = V::madd52lo(t[i + j], a.l[i], a.l[j]);
        t[i + j + 1] = V::madd52hi(t[i + j + 1], a.l[i], a.l[j]);
      }
    }
#pragma GCC unroll 16
    for (int k = 0; k < 2 * N; ++k) t[k] = V::add(t[k], t[k]);
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
      t[2 * i] = V::madd52lo(t[2 * i], a.l[i], a.l[i]);
      t[2 * i + 1] = V::madd52hi(t[2 * i + 1], a.l[i], a.l[i]);
    }
    return reduce(t);
  }

  [[gnu::always_inline]] static Fe select(Mask m, const Fe& a, const Fe& b) {
    Fe r;
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) r.l[j] = V::select(m, a.l[j], b.l[j]);
    return r;
  }
};

// ---------------------------------------------------------------------------------------------
// Points (Jacobian: x = X/Z^2, y = Y/Z^3). Formulas from the Explicit-Formulas Database:
// dbl-2001-b (a = -3) with Z3 = 2Y·Z, dbl-2007-bl (any a) with Z3 = 2Y·Z, add-2007-bl,
// madd-2007-bl with Z3 = Z1·2H. The template parameter F is a field (above) or the bound
// checker of the tests; the per-site multiples m are explained in the file comment.
// ---------------------------------------------------------------------------------------------

template <class F>
struct Jac {
  typename F::Fe X, Y, Z;
};

template <class F>
[[gnu::always_inline]] inline Jac<F> jac_select(typename F::Mask m, const Jac<F>& a,
                                                const Jac<F>& b) {
  return Jac<F>{F::select(m, a.X, b.X), F::select(m, a.Y, b.Y), F::select(m, a.Z, b.Z)};
}

/// 2P. Exact for every finite P (no point of order 2 on these curves).
template <class F>
[[gnu::always_inline]] inline Jac<F> point_dbl(const F& f, const Jac<F>& p, bool a_is_minus3) {
  using Fe = typename F::Fe;
  if (a_is_minus3) {
    const Fe delta = f.sqr(p.Z);
    const Fe gamma = f.sqr(p.Y);
    const Fe beta = f.mul(p.X, gamma);
    const Fe t0 = f.template sub<2, 2>(p.X, delta);
    const Fe t1 = f.add(p.X, delta);
    const Fe alpha = f.template mul_small<3>(f.mul(t0, t1));
    const Fe beta4 = f.template mul_small<4>(beta);
    const Fe x3 = f.fold(f.template sub<9, 9>(f.sqr(alpha), f.template mul_small_nn<2>(beta4)));
    const Fe z3 = f.mul(f.template mul_small<2>(p.Y), p.Z);
    const Fe t2 = f.template sub<2, 11>(beta4, x3);
    const Fe g8 = f.template mul_small_nn<8>(f.sqr(gamma));
    const Fe y3 = f.fold(f.template sub<9, 9>(f.mul(alpha, t2), g8));
    return Jac<F>{x3, y3, z3};
  }
  // Any a: XX = X^2, YY = Y^2, S = 4X·YY, M = 3XX + a·ZZ^2, X3 = M^2 - 2S,
  // Y3 = M(S - X3) - 8YY^2, Z3 = 2Y·Z.
  const Fe xx = f.sqr(p.X);
  const Fe yy = f.sqr(p.Y);
  const Fe s = f.mul(f.template mul_small<4>(p.X), yy);
  const Fe zz = f.sqr(p.Z);
  const Fe m = f.add(f.template mul_small<3>(xx), f.mul(f.constant(f.c.a), f.sqr(zz)));
  const Fe x3 = f.fold(f.template sub<3, 3>(f.sqr(m), f.template mul_small_nn<2>(s)));
  const Fe t = f.template sub<2, 5>(s, x3);
  const Fe y3 = f.fold(f.template sub<9, 9>(f.mul(m, t), f.template mul_small_nn<8>(f.sqr(yy))));
  const Fe z3 = f.mul(f.template mul_small<2>(p.Y), p.Z);
  return Jac<F>{x3, y3, z3};
}

/// P1 + P2 (both finite). Z3 = 0 iff P1 = ±P2.
template <class F>
[[gnu::always_inline]] inline Jac<F> point_add(const F& f, const Jac<F>& a, const Jac<F>& b) {
  using Fe = typename F::Fe;
  const Fe z1z1 = f.sqr(a.Z);
  const Fe z2z2 = f.sqr(b.Z);
  const Fe u1 = f.mul(a.X, z2z2);
  const Fe u2 = f.mul(b.X, z1z1);
  const Fe s1 = f.mul(a.Y, f.mul(b.Z, z2z2));
  const Fe s2 = f.mul(b.Y, f.mul(a.Z, z1z1));
  const Fe h = f.template sub<2, 2>(u2, u1);
  const Fe i = f.sqr(f.template mul_small<2>(h));
  const Fe j = f.mul(h, i);
  const Fe rr = f.template mul_small<2>(f.template sub<2, 2>(s2, s1));
  const Fe v = f.mul(u1, i);
  const Fe x3 = f.fold(f.template sub<5, 5>(f.sqr(rr), f.add_nn(j, f.template mul_small_nn<2>(v))));
  const Fe t2 = f.template sub<2, 7>(v, x3);
  const Fe y3 =
      f.fold(f.template sub<3, 3>(f.mul(rr, t2), f.template mul_small_nn<2>(f.mul(s1, j))));
  // Z3 = ((Z1 + Z2)^2 - Z1Z1 - Z2Z2)·H
  const Fe zs = f.template sub<3, 3>(f.sqr(f.add(a.Z, b.Z)), f.add_nn(z1z1, z2z2));
  const Fe z3 = f.mul(zs, h);
  return Jac<F>{x3, y3, z3};
}

/// P1 + (x2, y2) with (x2, y2) affine. Z3 = 0 iff P1 = ±(x2, y2).
template <class F>
[[gnu::always_inline]] inline Jac<F> point_madd(const F& f, const Jac<F>& a,
                                                const typename F::Fe& x2,
                                                const typename F::Fe& y2) {
  using Fe = typename F::Fe;
  const Fe z1z1 = f.sqr(a.Z);
  const Fe u2 = f.mul(x2, z1z1);
  const Fe s2 = f.mul(y2, f.mul(a.Z, z1z1));
  const Fe h = f.template sub<2, 11>(u2, a.X);
  const Fe i = f.template mul_small<4>(f.sqr(h));
  const Fe j = f.mul(h, i);
  const Fe rr = f.template mul_small<2>(f.template sub<2, 11>(s2, a.Y));
  const Fe v = f.mul(a.X, i);
  const Fe x3 = f.fold(f.template sub<6, 4>(f.sqr(rr), f.add_nn(j, f.template mul_small_nn<2>(v))));
  const Fe t2 = f.template sub<2, 7>(v, x3);
  const Fe y3 =
      f.fold(f.template sub<3, 3>(f.mul(rr, t2), f.template mul_small_nn<2>(f.mul(a.Y, j))));
  const Fe z3 = f.mul(a.Z, f.template mul_small<2>(h));
  return Jac<F>{x3, y3, z3};
}

// ---------------------------------------------------------------------------------------------
// Accumulator steps (shared with the bound checker of the tests).
// ---------------------------------------------------------------------------------------------

/// acc += (d < 0 ? -t : t) in lanes with a non-zero digit (nz); lanes still at infinity (inf)
/// take the entry itself. t is a Jacobian table entry of the cold path.
template <class F>
[[gnu::always_inline]] inline void acc_add_jac(const F& f, Jac<F>& acc, typename F::Mask& inf,
                                               typename F::Mask nz, typename F::Mask neg,
                                               Jac<F> t) {
  using Mask = typename F::Mask;
  t.Y = F::select(neg, t.Y, f.template neg<2, 11>(t.Y));
  const Jac<F> sum = point_add(f, acc, t);
  acc = jac_select<F>(static_cast<Mask>(nz & ~inf), acc, sum);
  acc = jac_select<F>(static_cast<Mask>(nz & inf), acc, t);
  inf = static_cast<Mask>(inf & ~nz);
}

/// acc += (d < 0 ? -(x, y) : (x, y)) for an affine comb entry (x, y < 1.01·p).
template <class F>
[[gnu::always_inline]] inline void acc_add_affine(const F& f, Jac<F>& acc, typename F::Mask& inf,
                                                  typename F::Mask nz, typename F::Mask neg,
                                                  const typename F::Fe& x,
                                                  const typename F::Fe& y) {
  using Mask = typename F::Mask;
  const typename F::Fe yn = F::select(neg, y, f.template neg<2, 2>(y));
  const Jac<F> sum = point_madd(f, acc, x, yn);
  acc = jac_select<F>(static_cast<Mask>(nz & ~inf), acc, sum);
  acc = jac_select<F>(static_cast<Mask>(nz & inf), acc, Jac<F>{x, yn, f.one()});
  inf = static_cast<Mask>(inf & ~nz);
}

/// d = lhs - X where lhs = r·Z^2 (Montgomery): zero mod p iff x(R) == r.
template <class F>
[[gnu::always_inline]] inline typename F::Fe final_diff(const F& f, const typename F::Fe& rm,
                                                        const typename F::Fe& z2,
                                                        const typename F::Fe& x) {
  return f.template sub<2, 11>(f.mul(rm, z2), x);
}

// ---------------------------------------------------------------------------------------------
// Scalars.
// ---------------------------------------------------------------------------------------------

/// Signed fixed-window recoding: k = sum d_i 2^(w·i), |d_i| <= 2^(w-1); k < 2^(w·windows - 1).
inline void recode_signed(const u64* k, int limbs, int w, int windows, int16_t* digits) {
  unsigned carry = 0;
  const unsigned full = 1u << w, half = 1u << (w - 1);
  for (int i = 0; i < windows; ++i) {
    const int bit = w * i;
    unsigned v = 0;
    if (bit < 64 * limbs) {
      const int limb = bit / 64, sh = bit % 64;
      u64 x = k[limb] >> sh;
      if (sh + w > 64 && limb + 1 < limbs) x |= k[limb + 1] << (64 - sh);
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

/// Little-endian 64-bit limbs -> N limbs of 52 bits.
template <int N>
inline void limbs64_to_52(const u64* x, int limbs, u64* out) {
  for (int j = 0; j < N; ++j) {
    const int bit = 52 * j, limb = bit / 64, sh = bit % 64;
    u64 v = limb < limbs ? x[limb] >> sh : 0;
    if (sh > 12 && limb + 1 < limbs) v |= x[limb + 1] << (64 - sh);
    out[j] = v & kMask52;
  }
}

/// v52 (N limbs of 52 bits, value < 2^(52N), a small multiple of p at most) mod p, as
/// little-endian 64-bit limbs (c.L of them).
template <int N>
inline void reduce_mod_p(const u64* v52, const EcCurveParams& c, u64* out) {
  constexpr int kW = (52 * N + 63) / 64 + 1;
  u64 v[kW] = {};
  for (int j = 0; j < N; ++j) {
    const int bit = 52 * j, limb = bit / 64, sh = bit % 64;
    const u128 x = static_cast<u128>(v52[j]) << sh;
    u128 acc = static_cast<u128>(v[limb]) + static_cast<u64>(x);
    v[limb] = static_cast<u64>(acc);
    u64 carry = static_cast<u64>(acc >> 64) + static_cast<u64>(x >> 64);
    for (int k = limb + 1; k < kW && carry != 0; ++k) {
      acc = static_cast<u128>(v[k]) + carry;
      v[k] = static_cast<u64>(acc);
      carry = static_cast<u64>(acc >> 64);
    }
  }
  u64 p[kW] = {};
  for (int k = 0; k < c.L; ++k) p[k] = c.p[k];
  for (;;) {
    bool ge = true;
    for (int k = kW - 1; k >= 0; --k) {
      if (v[k] != p[k]) {
        ge = v[k] > p[k];
        break;
      }
    }
    if (!ge) break;
    u64 borrow = 0;
    for (int k = 0; k < kW; ++k) {
      const u128 d = static_cast<u128>(v[k]) - p[k] - borrow;
      v[k] = static_cast<u64>(d);
      borrow = static_cast<u64>(d >> 64) & 1;
    }
  }
  for (int k = 0; k < c.L; ++k) out[k] = v[k];
}

/// True if the N-limb value is 0 mod p.
template <int N>
inline bool zero_mod_p(const u64* v52, const EcCurveParams& c) {
  u64 v[kEcMaxL];
  reduce_mod_p<N>(v52, c, v);
  u64 acc = 0;
  for (int k = 0; k < c.L; ++k) acc |= v[k];
  return acc == 0;
}

// ---------------------------------------------------------------------------------------------
// The engine.
// ---------------------------------------------------------------------------------------------

inline constexpr int kMaxWindows = 80;

template <class V, int N, bool kP256>
struct Engine {
  using F = Field<V, N, kP256>;
  using Fe = typename F::Fe;
  using R = typename V::R;
  using Mask = typename V::Mask;
  using J = Jac<F>;
  static constexpr int kLanes = V::kLanes;

  /// Per-lane plain coordinates (64-bit limbs) -> Fe (plain, 52-bit limbs).
  static Fe load_plain(const u64* const* src, int limbs) {
    alignas(64) u64 buf[N][kLanes];
    for (int l = 0; l < kLanes; ++l) {
      u64 t[N];
      limbs64_to_52<N>(src[l], limbs, t);
      for (int j = 0; j < N; ++j) buf[j][l] = t[j];
    }
    Fe r;
    for (int j = 0; j < N; ++j) r.l[j] = V::load(buf[j]);
    return r;
  }

  static void store_fe(const Fe& a, u64 (*out)[N]) {  // out[lane][limb]
    alignas(64) u64 buf[N][kLanes];
    for (int j = 0; j < N; ++j) V::store(buf[j], a.l[j]);
    for (int l = 0; l < kLanes; ++l)
      for (int j = 0; j < N; ++j) out[l][j] = buf[j][l];
  }

  static R lanes_of(const int64_t* v) {
    alignas(64) u64 buf[kLanes];
    for (int l = 0; l < kLanes; ++l) buf[l] = static_cast<u64>(v[l]);
    return V::load(buf);
  }

  /// P-256 table entry coordinate (4x64-bit limbs, x·2^256 mod p) at per-lane byte addresses
  /// -> x·2^260 (the engine's Montgomery form), folded below 1.01·p.
  static Fe load_p256_coord(const F& f, R addr) {
    const R m = F::mask52();
    const R v0 = V::gather_abs(addr);
    const R v1 = V::gather_abs(V::add(addr, V::set1(8)));
    const R v2 = V::gather_abs(V::add(addr, V::set1(16)));
    const R v3 = V::gather_abs(V::add(addr, V::set1(24)));
    Fe r;
    r.l[0] = V::and_(V::template slli<4>(v0), m);
    r.l[1] = V::and_(V::or_(V::template srli<48>(v0), V::template slli<16>(v1)), m);
    r.l[2] = V::and_(V::or_(V::template srli<36>(v1), V::template slli<28>(v2)), m);
    r.l[3] = V::and_(V::or_(V::template srli<24>(v2), V::template slli<40>(v3)), m);
    r.l[4] = V::template srli<12>(v3);
    return f.fold(r);
  }

  /// Digit masks and table indices of window i for every lane.
  struct Step {
    Mask nz = 0, neg = 0;
    int64_t idx[kLanes];  // |d| - 1, or 0 where d == 0
  };
  static Step step_of(const int16_t (*digits)[kMaxWindows], int i) {
    Step s;
    for (int l = 0; l < kLanes; ++l) {
      const int d = digits[l][i];
      if (d != 0) s.nz = static_cast<Mask>(s.nz | (1u << l));
      if (d < 0) s.neg = static_cast<Mask>(s.neg | (1u << l));
      s.idx[l] = d == 0 ? 0 : (d < 0 ? -d : d) - 1;
    }
    return s;
  }

  /// acc += u1·G with the static comb table.
  static void add_g(const F& f, const EcCurveParams& c, const EcPointJob* const* lane, J& acc,
                    Mask& inf) {
    int16_t dg[kLanes][kMaxWindows];
    for (int l = 0; l < kLanes; ++l)
      recode_signed(lane[l]->u1, c.L, c.g_window, c.g_windows, dg[l]);
    const int per = 1 << (c.g_window - 1);
    for (int i = 0; i < c.g_windows; ++i) {
      const Step s = step_of(dg, i);
      if (s.nz == 0) continue;
      Fe x, y;
      if constexpr (kP256) {
        int64_t addr[kLanes];
        const uintptr_t base = reinterpret_cast<uintptr_t>(c.g_table);
        for (int l = 0; l < kLanes; ++l)
          addr[l] = static_cast<int64_t>(base + static_cast<uintptr_t>(i * per + s.idx[l]) * 64);
        const R a = lanes_of(addr);
        x = load_p256_coord(f, a);
        y = load_p256_coord(f, V::add(a, V::set1(32)));
      } else {
        int64_t e[kLanes];
        for (int l = 0; l < kLanes; ++l) e[l] = (static_cast<int64_t>(i) * per + s.idx[l]) * 2 * N;
        const R ev = lanes_of(e);
        const u64* t = static_cast<const u64*>(c.g_table);
        for (int j = 0; j < N; ++j) {
          x.l[j] = V::gather(ev, t + j);
          y.l[j] = V::gather(ev, t + N + j);
        }
      }
      acc_add_affine(f, acc, inf, s.nz, s.neg, x, y);
    }
  }

  /// Verdicts from the final accumulator.
  static void finish(const F& f, const EcCurveParams& c, const EcPointJob* const* lane, int cnt,
                     const J& acc, Mask inf, uint8_t* const* outs) {
    const Fe rr = F::constant(f.c.rr);
    const u64* rs[kLanes];
    const u64* rns[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      rs[l] = lane[l]->r;
      rns[l] = lane[l]->has_rn ? lane[l]->rn : lane[l]->r;
    }
    const Fe rm = f.mul(load_plain(rs, c.L), rr);
    const Fe rnm = f.mul(load_plain(rns, c.L), rr);
    const Fe z2 = f.sqr(acc.Z);
    u64 d1[kLanes][N], d2[kLanes][N], z[kLanes][N];
    store_fe(final_diff(f, rm, z2, acc.X), d1);
    store_fe(final_diff(f, rnm, z2, acc.X), d2);
    store_fe(acc.Z, z);
    for (int l = 0; l < cnt; ++l) {
      if (((inf >> l) & 1) != 0 || zero_mod_p<N>(z[l], c)) {
        *outs[l] = kEcExact;
        continue;
      }
      const bool ok = zero_mod_p<N>(d1[l], c) || (lane[l]->has_rn && zero_mod_p<N>(d2[l], c));
      *outs[l] = ok ? kEcValid : kEcInvalid;
    }
  }

  /// Keys without a table: u2·Q with a per-lane table of 1..16·Q, 5-bit signed windows.
  static void cold_group(const F& f, const EcCurveParams& c, const EcPointJob* const* lane, int cnt,
                         uint8_t* const* outs) {
    const bool am3 = f.c.a_is_minus3;
    const u64* qxs[kLanes];
    const u64* qys[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      qxs[l] = lane[l]->qx;
      qys[l] = lane[l]->qy;
    }
    const Fe rr = F::constant(f.c.rr);
    const Fe qx = f.mul(load_plain(qxs, c.L), rr);
    const Fe qy = f.mul(load_plain(qys, c.L), rr);
    // tbl[e][coord][limb][lane]: (e + 1)·Q in Jacobian coordinates.
    alignas(64) u64 tbl[16][3][N][kLanes];
    auto put = [&](int e, const J& p) {
      for (int j = 0; j < N; ++j) {
        V::store(tbl[e][0][j], p.X.l[j]);
        V::store(tbl[e][1][j], p.Y.l[j]);
        V::store(tbl[e][2][j], p.Z.l[j]);
      }
    };
    J cur{qx, qy, f.one()};
    put(0, cur);
    cur = point_dbl(f, cur, am3);
    put(1, cur);
    for (int e = 2; e < 16; ++e) {
      cur = point_madd(f, cur, qx, qy);
      put(e, cur);
    }
    int16_t dq[kLanes][kMaxWindows];
    for (int l = 0; l < kLanes; ++l) recode_signed(lane[l]->u2, c.L, 5, c.q_windows, dq[l]);
    J acc{F::zero(), F::zero(), F::zero()};
    Mask inf = V::kAll;
    int64_t lane_off[kLanes];
    for (int l = 0; l < kLanes; ++l) lane_off[l] = l;
    for (int i = c.q_windows - 1; i >= 0; --i) {
      if (inf != V::kAll) {
        for (int k = 0; k < 5; ++k) acc = point_dbl(f, acc, am3);
      }
      const Step s = step_of(dq, i);
      if (s.nz == 0) continue;
      int64_t e[kLanes];
      for (int l = 0; l < kLanes; ++l) e[l] = s.idx[l] * 3 * N * kLanes + lane_off[l];
      const R ev = lanes_of(e);
      J t;
      for (int j = 0; j < N; ++j) {
        t.X.l[j] = V::gather(ev, &tbl[0][0][j][0]);
        t.Y.l[j] = V::gather(ev, &tbl[0][1][j][0]);
        t.Z.l[j] = V::gather(ev, &tbl[0][2][j][0]);
      }
      acc_add_jac(f, acc, inf, s.nz, s.neg, t);
    }
    add_g(f, c, lane, acc, inf);
    finish(f, c, lane, cnt, acc, inf, outs);
  }

  /// P-256 keys with a comb table (window 6, 43 windows of 32 affine points): no doublings.
  static void comb_group(const F& f, const EcCurveParams& c, const EcPointJob* const* lane, int cnt,
                         uint8_t* const* outs) {
    constexpr int kQW = 6, kQWindows = 43, kQPer = 1 << (kQW - 1);
    int16_t dq[kLanes][kMaxWindows];
    for (int l = 0; l < kLanes; ++l) recode_signed(lane[l]->u2, c.L, kQW, kQWindows, dq[l]);
    J acc{F::zero(), F::zero(), F::zero()};
    Mask inf = V::kAll;
    for (int i = 0; i < kQWindows; ++i) {
      const Step s = step_of(dq, i);
      if (s.nz == 0) continue;
      int64_t addr[kLanes];
      for (int l = 0; l < kLanes; ++l) {
        addr[l] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(lane[l]->qcomb) +
                                       static_cast<uintptr_t>(i * kQPer + s.idx[l]) * 64);
      }
      const R a = lanes_of(addr);
      const Fe x = load_p256_coord(f, a);
      const Fe y = load_p256_coord(f, V::add(a, V::set1(32)));
      acc_add_affine(f, acc, inf, s.nz, s.neg, x, y);
    }
    add_g(f, c, lane, acc, inf);
    finish(f, c, lane, cnt, acc, inf, outs);
  }

  /// P-256: a (normalized, < 2p) -> a mod p as 4 x 64-bit words per lane (out[word][lane]).
  static void canon_pack(const F& f, const Fe& a, u64 (*out)[kLanes]) {
    Fe d;
    for (int j = 0; j < N; ++j) d.l[j] = V::sub(a.l[j], V::set1(f.c.p[j]));
    F::normalize(d);  // a - p, signed carries; negative top limb iff a < p
    const Fe r = F::select(V::negative(d.l[N - 1]), d, a);
    const R w0 = V::or_(r.l[0], V::template slli<52>(r.l[1]));
    const R w1 = V::or_(V::template srli<12>(r.l[1]), V::template slli<40>(r.l[2]));
    const R w2 = V::or_(V::template srli<24>(r.l[2]), V::template slli<28>(r.l[3]));
    const R w3 = V::or_(V::template srli<36>(r.l[3]), V::template slli<16>(r.l[4]));
    V::store(out[0], w0);
    V::store(out[1], w1);
    V::store(out[2], w2);
    V::store(out[3], w3);
  }

  /// P-256: the rows of a key's comb table. bases: 43 affine points 2^(6i)·Q (8 words each:
  /// x, y as 4x64-bit limbs, Montgomery form with R = 2^256, canonical); out: 43 × 32 entries
  /// (j + 1)·base_i in the same format, canonical — exactly what the portable builder produces.
  /// Lanes are windows; one field inversion for the whole table.
  static void comb_rows(const EcCurveParams& c, const u64* bases, u64* out) {
    static_assert(kP256, "P-256 only");
    constexpr int kWindows = 43, kPer = 32;
    constexpr int kGroups = (kWindows + kLanes - 1) / kLanes;
    const F f{c.f};
    // Jacobian rows, lane-major: pts[(g * kPer + j)] holds entry j of windows g·kLanes + lane.
    std::vector<J> pts(static_cast<size_t>(kGroups) * kPer);
    for (int g = 0; g < kGroups; ++g) {
      int64_t addr[kLanes];
      for (int l = 0; l < kLanes; ++l) {
        const int w = g * kLanes + l < kWindows ? g * kLanes + l : kWindows - 1;
        addr[l] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(bases + 8 * w));
      }
      const R a = lanes_of(addr);
      const Fe x = load_p256_coord(f, a);
      const Fe y = load_p256_coord(f, V::add(a, V::set1(32)));
      J cur{x, y, f.one()};
      pts[static_cast<size_t>(g) * kPer] = cur;
      cur = point_dbl(f, cur, true);
      pts[static_cast<size_t>(g) * kPer + 1] = cur;
      // (j + 1)·B = j·B + B: never ±B nor infinity for 2 <= j < 32 (prime order n).
      for (int j = 2; j < kPer; ++j) {
        cur = point_madd(f, cur, x, y);
        pts[static_cast<size_t>(g) * kPer + static_cast<size_t>(j)] = cur;
      }
    }
    // To affine: Montgomery's trick along each lane, one inversion (Fermat, p - 2).
    const size_t n = pts.size();
    std::vector<Fe> prefix(n);
    prefix[0] = pts[0].Z;
    for (size_t k = 1; k < n; ++k) prefix[k] = f.mul(prefix[k - 1], pts[k].Z);
    Fe inv = f.one();
    {
      u64 e[4];
      std::memcpy(e, c.p, sizeof e);
      e[0] -= 2;
      for (int bit = 255; bit >= 0; --bit) {
        inv = f.sqr(inv);
        if ((e[bit / 64] >> (bit % 64)) & 1) inv = f.mul(inv, prefix[n - 1]);
      }
    }
    // 2^256 mod p as a multiplier: (x·2^260)·2^256·2^-260 = x·2^256, the portable form.
    u64 c256_64[4] = {1, 0, 0, 0};
    u64 c256[N];
    {
      // 2^256 mod p = 2^224 - 2^192 - 2^96 + 1.
      c256_64[0] = 1;
      c256_64[1] = 0xffffffff00000000ULL;
      c256_64[2] = 0xffffffffffffffffULL;
      c256_64[3] = 0x00000000fffffffeULL;
      limbs64_to_52<N>(c256_64, 4, c256);
    }
    const Fe to256 = F::constant(c256);
    for (size_t k = n; k-- > 0;) {
      Fe zinv;
      if (k > 0) {
        zinv = f.mul(inv, prefix[k - 1]);
        inv = f.mul(inv, pts[k].Z);
      } else {
        zinv = inv;
      }
      const Fe z2 = f.sqr(zinv);
      const Fe z3 = f.mul(z2, zinv);
      const Fe ax = f.mul(f.mul(pts[k].X, z2), to256);
      const Fe ay = f.mul(f.mul(pts[k].Y, z3), to256);
      alignas(64) u64 xs[4][kLanes], ys[4][kLanes];
      canon_pack(f, ax, xs);
      canon_pack(f, ay, ys);
      const int g = static_cast<int>(k / kPer), j = static_cast<int>(k % kPer);
      for (int l = 0; l < kLanes; ++l) {
        const int w = g * kLanes + l;
        if (w >= kWindows) break;
        u64* e = out + 8 * (static_cast<size_t>(w) * kPer + static_cast<size_t>(j));
        for (int q = 0; q < 4; ++q) {
          e[q] = xs[q][l];
          e[4 + q] = ys[q][l];
        }
      }
    }
  }

  static void run(const EcCurveParams& c, const EcPointJob* jobs, size_t n, uint8_t* out) {
    const F f{c.f};
    constexpr size_t kBlock = 256;
    for (size_t base = 0; base < n; base += kBlock) {
      const size_t m = n - base < kBlock ? n - base : kBlock;
      uint32_t cold[kBlock], hot[kBlock];
      size_t nc = 0, nh = 0;
      for (size_t i = 0; i < m; ++i) {
        if (kP256 && jobs[base + i].qcomb != nullptr) {
          hot[nh++] = static_cast<uint32_t>(base + i);
        } else {
          cold[nc++] = static_cast<uint32_t>(base + i);
        }
      }
      for (int pass = 0; pass < 2; ++pass) {
        const uint32_t* list = pass == 0 ? cold : hot;
        const size_t cnt_all = pass == 0 ? nc : nh;
        for (size_t g = 0; g < cnt_all; g += kLanes) {
          const int cnt = static_cast<int>(cnt_all - g < kLanes ? cnt_all - g : kLanes);
          const EcPointJob* lane[kLanes];
          uint8_t* outs[kLanes];
          uint8_t dummy[kLanes];
          for (int l = 0; l < kLanes; ++l) {
            const size_t idx = list[g + (l < cnt ? l : 0)];
            lane[l] = &jobs[idx];
            outs[l] = l < cnt ? &out[idx] : &dummy[l];
          }
          if (pass == 0) {
            cold_group(f, c, lane, cnt, outs);
          } else if constexpr (kP256) {
            comb_group(f, c, lane, cnt, outs);
          }
        }
      }
    }
  }
};

}  // namespace
}  // namespace assay::crypto::detail
