/// \file AVX-512 IFMA engine of the Ed25519 verifier: 8 field elements per vector (one per
/// 64-bit lane), radix 2^51 like the portable code, products with vpmadd52{lo,hi}uq.
///
/// Compiled with -mavx512f/vl/bw/dq/ifma (crypto/CMakeLists.txt); entered only after
/// backend_supported(Backend::kAvx512). What is vectorised:
///  - bulk point decompression (the (p-5)/8 exponentiation of 8 points at once);
///  - the odd-multiple tables of 8 MSM terms at once;
///  - the Straus accumulation: at each bit position the (independent) table additions of all
///    terms are dealt round-robin to 8 lane accumulators (gathered table entries), doublings
///    run on all 8 accumulators at once, and the 8 partial sums are added at the end.
/// Results are exact (same group elements as the portable code), so verdicts are identical.
///
/// Linkage rule for this file: every function is `static`/anonymous-namespace and every
/// standard-library template is instantiated only with types local to this file (Local<T>),
/// so no AVX-512-compiled out-of-line copy can be shared with (and picked by the linker for)
/// portable translation units.
// GCC 12 reports its own _mm512_undefined_epi32() inside the shift intrinsics as
// "used uninitialized" (false positive under -Werror); silence it for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "crypto/ed25519_batch.hpp"

namespace assay::crypto::ed25519_batch {
namespace {

using namespace ed25519_internal;
using V = __m512i;

/// Invariant for every F8 produced here: all limbs < 2^52 (valid vpmadd52 inputs).
struct F8 {
  V v[5];
};

[[gnu::always_inline]] inline V vset1(uint64_t x) { return _mm512_set1_epi64((long long)x); }

/// One parallel carry pass. Inputs < 2^62 per limb; outputs < 2^52 when inputs < 2^61.5.
[[gnu::always_inline]] inline F8 f8_carry(const F8& a) {
  const V m = vset1(kMask51);
  const V c0 = _mm512_srli_epi64(a.v[0], 51);
  const V c1 = _mm512_srli_epi64(a.v[1], 51);
  const V c2 = _mm512_srli_epi64(a.v[2], 51);
  const V c3 = _mm512_srli_epi64(a.v[3], 51);
  const V c4 = _mm512_srli_epi64(a.v[4], 51);
  F8 r;
  r.v[0] = _mm512_madd52lo_epu64(_mm512_and_si512(a.v[0], m), c4, vset1(19));
  r.v[1] = _mm512_add_epi64(_mm512_and_si512(a.v[1], m), c0);
  r.v[2] = _mm512_add_epi64(_mm512_and_si512(a.v[2], m), c1);
  r.v[3] = _mm512_add_epi64(_mm512_and_si512(a.v[3], m), c2);
  r.v[4] = _mm512_add_epi64(_mm512_and_si512(a.v[4], m), c3);
  return r;
}

[[gnu::always_inline]] inline F8 f8_add(const F8& a, const F8& b) {
  F8 r;
  _Pragma("GCC unroll 32")
  for (int i = 0; i < 5; ++i) r.v[i] = _mm512_add_epi64(a.v[i], b.v[i]);
  return f8_carry(r);
}

/// a - b as a + 4p - b (b < 2^52 <= 4p limbs), then carried.
[[gnu::always_inline]] inline F8 f8_sub(const F8& a, const F8& b) {
  F8 r;
  const V p0 = vset1((uint64_t{1} << 53) - 76), pi = vset1((uint64_t{1} << 53) - 4);
  r.v[0] = _mm512_sub_epi64(_mm512_add_epi64(a.v[0], p0), b.v[0]);
  _Pragma("GCC unroll 32")
  for (int i = 1; i < 5; ++i) r.v[i] = _mm512_sub_epi64(_mm512_add_epi64(a.v[i], pi), b.v[i]);
  return f8_carry(r);
}

/// Folds the 10 product columns (each < 2^56) into 5 limbs and carries.
[[gnu::always_inline]] inline F8 f8_fold(const V col[10]) {
  const V k19 = vset1(19);
  F8 r;
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 5; ++k) r.v[k] = _mm512_add_epi64(col[k], _mm512_mullo_epi64(col[k + 5], k19));
  return f8_carry(r);
}

[[gnu::always_inline]] inline F8 f8_mul(const F8& a, const F8& b) {
  const V z = _mm512_setzero_si512();
  V lo[10], hi[10];
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 10; ++k) lo[k] = hi[k] = z;
  _Pragma("GCC unroll 32")
  for (int i = 0; i < 5; ++i) {
    _Pragma("GCC unroll 32")
    for (int j = 0; j < 5; ++j) {
      lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a.v[i], b.v[j]);
      hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a.v[i], b.v[j]);
    }
  }
  // The high half of a 52x52 product weighs 2^52 = 2 * 2^51 relative to its column.
  V col[10];
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 10; ++k) col[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k], 1));
  return f8_fold(col);
}

[[gnu::always_inline]] inline F8 f8_sq(const F8& a) {
  const V z = _mm512_setzero_si512();
  V lo[10], hi[10], clo[10], chi[10];
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 10; ++k) lo[k] = hi[k] = clo[k] = chi[k] = z;
  _Pragma("GCC unroll 32")
  for (int i = 0; i < 5; ++i) {
    lo[2 * i] = _mm512_madd52lo_epu64(lo[2 * i], a.v[i], a.v[i]);
    hi[2 * i + 1] = _mm512_madd52hi_epu64(hi[2 * i + 1], a.v[i], a.v[i]);
    _Pragma("GCC unroll 32")
    for (int j = i + 1; j < 5; ++j) {
      clo[i + j] = _mm512_madd52lo_epu64(clo[i + j], a.v[i], a.v[j]);
      chi[i + j + 1] = _mm512_madd52hi_epu64(chi[i + j + 1], a.v[i], a.v[j]);
    }
  }
  V col[10];
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 10; ++k) {
    const V diag = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k], 1));
    const V cross = _mm512_add_epi64(_mm512_slli_epi64(clo[k], 1), _mm512_slli_epi64(chi[k], 2));
    col[k] = _mm512_add_epi64(diag, cross);
  }
  return f8_fold(col);
}

inline F8 f8_sqn(F8 a, int n) {
  for (int i = 0; i < n; ++i) a = f8_sq(a);
  return a;
}

[[gnu::always_inline]] inline F8 f8_const(const Fe& c) {
  F8 r;
  _Pragma("GCC unroll 32")
  for (int i = 0; i < 5; ++i) r.v[i] = vset1(c.v[i]);
  return r;
}

/// z^(2^252 - 3), same addition chain as the portable fe_pow22523.
inline F8 f8_pow22523(const F8& z) {
  F8 z2 = f8_sq(z);
  F8 z9 = f8_mul(f8_sqn(z2, 2), z);
  F8 z11 = f8_mul(z9, z2);
  F8 z_5_0 = f8_mul(f8_sq(z11), z9);
  F8 z_10_0 = f8_mul(f8_sqn(z_5_0, 5), z_5_0);
  F8 z_20_0 = f8_mul(f8_sqn(z_10_0, 10), z_10_0);
  F8 z_40_0 = f8_mul(f8_sqn(z_20_0, 20), z_20_0);
  F8 z_50_0 = f8_mul(f8_sqn(z_40_0, 10), z_10_0);
  F8 z_100_0 = f8_mul(f8_sqn(z_50_0, 50), z_50_0);
  F8 z_200_0 = f8_mul(f8_sqn(z_100_0, 100), z_100_0);
  F8 z_250_0 = f8_mul(f8_sqn(z_200_0, 50), z_50_0);
  return f8_mul(f8_sqn(z_250_0, 2), z);
}

/// Lane j <- src[j] (j < count; other lanes repeat src[0]); carried on load.
[[gnu::always_inline]] inline F8 f8_load(const Fe* const* src, int count) {
  alignas(64) uint64_t t[5][8];
  _Pragma("GCC unroll 32")
  for (int j = 0; j < 8; ++j) {
    const Fe& f = *src[j < count ? j : 0];
    _Pragma("GCC unroll 32")
    for (int k = 0; k < 5; ++k) t[k][j] = f.v[k];
  }
  F8 r;
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 5; ++k) r.v[k] = _mm512_load_si512(t[k]);
  return f8_carry(r);
}

[[gnu::always_inline]] inline void f8_store(Fe* const* dst, int count, const F8& a) {
  alignas(64) uint64_t t[5][8];
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 5; ++k) _mm512_store_si512(t[k], a.v[k]);
  _Pragma("GCC unroll 32")
  for (int j = 0; j < count; ++j)
    _Pragma("GCC unroll 32")
    for (int k = 0; k < 5; ++k) dst[j]->v[k] = t[k][j];
}

// ---------------------------------------------------------------------------------------------
// Group operations on 8 points (same formulas as ed25519_internal.hpp).
// ---------------------------------------------------------------------------------------------
struct P3x8 {
  F8 X, Y, Z, T;
};
struct P2x8 {
  F8 X, Y, Z;
};
struct P1P1x8 {
  F8 X, Y, Z, T;
};
struct Cachedx8 {
  F8 YplusX, YminusX, Z, T2d;
};

[[gnu::always_inline]] inline P3x8 p1p1_to_p3(const P1P1x8& p) {
  return P3x8{f8_mul(p.X, p.T), f8_mul(p.Y, p.Z), f8_mul(p.Z, p.T), f8_mul(p.X, p.Y)};
}
[[gnu::always_inline]] inline P2x8 p1p1_to_p2(const P1P1x8& p) {
  return P2x8{f8_mul(p.X, p.T), f8_mul(p.Y, p.Z), f8_mul(p.Z, p.T)};
}
[[gnu::always_inline]] inline Cachedx8 p3_to_cached(const P3x8& p, const F8& d2) {
  return Cachedx8{f8_add(p.Y, p.X), f8_sub(p.Y, p.X), p.Z, f8_mul(p.T, d2)};
}
[[gnu::always_inline]] inline P1P1x8 p2_dbl(const F8& X, const F8& Y, const F8& Z) {
  F8 a = f8_sq(X);
  F8 b = f8_sq(Y);
  F8 zz = f8_sq(Z);
  F8 c = f8_add(zz, zz);
  F8 h = f8_add(a, b);
  F8 e = f8_sub(h, f8_sq(f8_add(X, Y)));
  F8 g = f8_sub(a, b);
  F8 f = f8_add(c, g);
  return P1P1x8{e, h, g, f};
}
/// p + q in lanes where neg is clear, p - q where it is set.
[[gnu::always_inline]] inline P1P1x8 add_or_sub(const P3x8& p, const Cachedx8& q, __mmask8 neg) {
  F8 qa, qb;
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 5; ++k) {
    qa.v[k] = _mm512_mask_blend_epi64(neg, q.YminusX.v[k], q.YplusX.v[k]);
    qb.v[k] = _mm512_mask_blend_epi64(neg, q.YplusX.v[k], q.YminusX.v[k]);
  }
  F8 a = f8_mul(f8_sub(p.Y, p.X), qa);
  F8 b = f8_mul(f8_add(p.Y, p.X), qb);
  F8 c = f8_mul(p.T, q.T2d);
  F8 zz = f8_mul(p.Z, q.Z);
  F8 d = f8_add(zz, zz);
  F8 dpc = f8_add(d, c), dmc = f8_sub(d, c);
  P1P1x8 r;
  r.X = f8_sub(b, a);
  r.Y = f8_add(b, a);
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 5; ++k) {
    r.Z.v[k] = _mm512_mask_blend_epi64(neg, dpc.v[k], dmc.v[k]);
    r.T.v[k] = _mm512_mask_blend_epi64(neg, dmc.v[k], dpc.v[k]);
  }
  return r;
}

[[gnu::always_inline]] inline F8 f8_blend(__mmask8 m, const F8& a, const F8& b) {
  F8 r;
  _Pragma("GCC unroll 32")
  for (int k = 0; k < 5; ++k) r.v[k] = _mm512_mask_blend_epi64(m, a.v[k], b.v[k]);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Bulk decompression.
// ---------------------------------------------------------------------------------------------
void decode_core_avx512(const Fe* y, Fe* x, Fe* u, Fe* vxx, size_t n) {
  const F8 one = f8_const(fe_one());
  const F8 d = f8_const(kFeD);
  for (size_t off = 0; off < n; off += 8) {
    const int cnt = (int)(n - off < 8 ? n - off : 8);
    const Fe* ys[8];
    Fe *xs[8], *us[8], *vs[8];
    for (int j = 0; j < 8; ++j) {
      const size_t i = off + (size_t)(j < cnt ? j : 0);
      ys[j] = &y[i];
      xs[j] = &x[i];
      us[j] = &u[i];
      vs[j] = &vxx[i];
    }
    const F8 yv = f8_load(ys, cnt);
    const F8 yy = f8_sq(yv);
    const F8 uv = f8_sub(yy, one);
    const F8 v = f8_add(f8_mul(yy, d), one);
    const F8 v3 = f8_mul(f8_sq(v), v);
    const F8 v7 = f8_mul(f8_sq(v3), v);
    const F8 xv = f8_mul(f8_mul(uv, v3), f8_pow22523(f8_mul(uv, v7)));
    const F8 vx2 = f8_mul(v, f8_sq(xv));
    f8_store(xs, cnt, xv);
    f8_store(us, cnt, uv);
    f8_store(vs, cnt, vx2);
  }
}

// ---------------------------------------------------------------------------------------------
// Multi-scalar multiplication.
// ---------------------------------------------------------------------------------------------
constexpr int kW = 5;                   // window of every non-base term
constexpr int kEntries = 1 << (kW - 2);  // 8 odd multiples per term
constexpr int kBaseW = 8;
constexpr int kBaseEntries = 1 << (kBaseW - 2);
constexpr size_t kU64PerCached = sizeof(GeCached) / sizeof(uint64_t);
static_assert(kU64PerCached == 20, "GeCached must be 20 packed limbs");

void fe_carry_copy(Fe& dst, const Fe& src) {
  dst = src;
  fe_carry(dst);
  fe_carry(dst);
}

/// The base point's odd multiples with every limb < 2^52.
struct BaseTableCarried {
  GeCached e[kBaseEntries];
};
const BaseTableCarried& base_table_carried() {
  static const BaseTableCarried t = [] {
    BaseTableCarried v;
    const GeCached* src = base_odd_multiples();
    for (int i = 0; i < kBaseEntries; ++i) {
      fe_carry_copy(v.e[i].YplusX, src[i].YplusX);
      fe_carry_copy(v.e[i].YminusX, src[i].YminusX);
      fe_carry_copy(v.e[i].Z, src[i].Z);
      fe_carry_copy(v.e[i].T2d, src[i].T2d);
    }
    return v;
  }();
  return t;
}

/// A value wrapped in a file-local type (see the linkage rule at the top of this file).
template <class T>
struct Local {
  T v;
};
template <class T>
using LocalVec = std::vector<Local<T>>;

/// Byte address of a table entry's first limb (gathers use absolute addresses, so built,
/// static and cached tables can be mixed in one accumulation).
inline int64_t addr_of(const GeCached* e) {
  return static_cast<int64_t>(reinterpret_cast<uintptr_t>(e));
}

/// A non-zero wNAF digit of a term.
struct Digit {
  uint32_t term;  // n = the base point
  int16_t pos;
  int8_t value;
};

struct MsmScratch {
  LocalVec<GeCached> tables;      // tables built for terms that have none
  LocalVec<int64_t> addr;         // per non-zero digit, grouped by bit position: entry address
  LocalVec<uint8_t> neg;          // ... and its sign
  LocalVec<Digit> digits;         // non-zero digits of all terms, in recoding order
  LocalVec<const GeCached*> tab;  // per term: its table
  uint32_t start[258];
};

inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static_assert(sizeof(Local<GeCached>) == sizeof(GeCached) && sizeof(Local<int64_t>) == 8,
              "Local<T> must not add padding");

/// Odd multiples (1, 3, ..., 2^(w-1) - 1) * P of up to 8 points at once; point j's table at out[j].
void build_tables8(const GeP3* const* pts, int cnt, int entries, GeCached* const* out) {
  const F8 d2 = f8_const(kFeD2);
  const Fe *xs[8], *ys[8], *zs[8], *ts[8];
  for (int j = 0; j < 8; ++j) {
    const GeP3& p = *pts[j < cnt ? j : 0];
    xs[j] = &p.X;
    ys[j] = &p.Y;
    zs[j] = &p.Z;
    ts[j] = &p.T;
  }
  P3x8 p{f8_load(xs, cnt), f8_load(ys, cnt), f8_load(zs, cnt), f8_load(ts, cnt)};
  Cachedx8 p2{};
  if (entries > 1) p2 = p3_to_cached(p1p1_to_p3(p2_dbl(p.X, p.Y, p.Z)), d2);
  P3x8 cur = p;
  for (int e = 0; e < entries; ++e) {
    if (e > 0) cur = p1p1_to_p3(add_or_sub(cur, p2, 0));
    const Cachedx8 c = p3_to_cached(cur, d2);
    Fe *a[8], *b[8], *z[8], *t[8];
    for (int j = 0; j < cnt; ++j) {
      a[j] = &out[j][e].YplusX;
      b[j] = &out[j][e].YminusX;
      z[j] = &out[j][e].Z;
      t[j] = &out[j][e].T2d;
    }
    f8_store(a, cnt, c.YplusX);
    f8_store(b, cnt, c.YminusX);
    f8_store(z, cnt, c.Z);
    f8_store(t, cnt, c.T2d);
  }
}

void odd_tables_avx512(const GeP3* const* points, size_t n, int w, GeCached* const* out) {
  for (size_t g = 0; g < n; g += 8) {
    const int cnt = (int)min_size(8, n - g);
    build_tables8(points + g, cnt, 1 << (w - 2), out + g);
  }
}

/// wNAF digits of k (window w) written to out (room for 256 / w + 2); returns their number.
/// *top = max(*top, 1 + the highest position).
size_t wnaf_list(const Sc& k, int w, uint32_t term, Digit* out, int* top) {
  const uint64_t x[5] = {k.v[0], k.v[1], k.v[2], k.v[3], 0};
  auto bits_at = [&](int pos) {  // 64 bits of k from bit pos
    const int idx = pos / 64, bit = pos % 64;
    return bit == 0 ? x[idx] : (x[idx] >> bit) | (x[idx + 1] << (64 - bit));
  };
  const uint64_t width = uint64_t{1} << w;
  const uint64_t mask = width - 1;
  uint64_t carry = 0;
  size_t m = 0;
  int pos = 0;
  for (;;) {
    // The next digit sits at the first bit that differs from the carry: with carry 0 the run
    // of zeros is skipped, with carry 1 the run of ones (which the carry turns into zeros).
    const uint64_t run = bits_at(pos) ^ (0 - carry);
    if (run == 0) {  // 64 more bits equal to the carry
      pos += 64;
      if (pos >= 256) break;
      continue;
    }
    pos += __builtin_ctzll(run);
    if (pos >= 256) break;
    const uint64_t window = carry + (bits_at(pos) & mask);  // odd
    const bool high = window >= width / 2;
    out[m++] = Digit{term, (int16_t)pos, (int8_t)((int64_t)window - (high ? (int64_t)width : 0))};
    carry = high;
    *top = pos + 1 > *top ? pos + 1 : *top;
    pos += w;
    if (pos >= 256) break;
  }
  return m;
}

GeP2 msm_avx512(const Sc* base_scalar, std::span<const MsmTerm> terms) {
  thread_local MsmScratch s;
  const size_t n = terms.size();
  // Tables: cached ones as given, the others built here (window 5), 8 at a time.
  s.tab.resize(n + 1);
  size_t missing = 0;
  for (size_t i = 0; i < n; ++i) missing += terms[i].table == nullptr;
  s.tables.resize(kEntries * missing);
  {
    const GeP3* pts[8];
    GeCached* out[8];
    int cnt = 0;
    size_t next = 0;
    for (size_t i = 0; i < n; ++i) {
      if (terms[i].table != nullptr) {
        s.tab[i].v = terms[i].table;
        continue;
      }
      GeCached* t = &s.tables[kEntries * next++].v;
      s.tab[i].v = t;
      pts[cnt] = terms[i].point;
      out[cnt++] = t;
      if (cnt == 8) {
        build_tables8(pts, cnt, kEntries, out);
        cnt = 0;
      }
    }
    if (cnt > 0) build_tables8(pts, cnt, kEntries, out);
  }
  const BaseTableCarried& bt = base_table_carried();
  s.tab[n].v = bt.e;
  // Digits of every term (a width-w NAF of a scalar below 2^256 has at most 256/w + 1 non-zero
  // digits), then grouped by bit position (counting sort).
  size_t max_digits = 256 / kBaseW + 2;
  for (size_t i = 0; i < n; ++i)
    max_digits += 256 / (terms[i].table != nullptr ? terms[i].w : kW) + 2;
  s.digits.resize(max_digits);
  Digit* dg = &s.digits[0].v;
  size_t nd = 0;
  int top = 0;
  for (size_t i = 0; i < n; ++i) {
    const int w = terms[i].table != nullptr ? terms[i].w : kW;
    nd += wnaf_list(terms[i].scalar, w, (uint32_t)i, dg + nd, &top);
  }
  if (base_scalar) nd += wnaf_list(*base_scalar, kBaseW, (uint32_t)n, dg + nd, &top);
  std::memset(s.start, 0, sizeof s.start);
  for (size_t k = 0; k < nd; ++k) ++s.start[dg[k].pos + 1];
  for (int p = 1; p < 258; ++p) s.start[p] += s.start[p - 1];
  s.addr.resize(nd + 8);
  s.neg.resize(nd + 8);
  {
    uint32_t fill[257];
    std::memcpy(fill, s.start, sizeof fill);
    for (size_t k = 0; k < nd; ++k) {
      const int d = dg[k].value;
      const uint32_t at = fill[dg[k].pos]++;
      s.addr[at].v = addr_of(&s.tab[dg[k].term].v[(d > 0 ? d : -d) >> 1]);
      s.neg[at].v = d < 0;
    }
    // Padding read by the last group of 8 (masked out): any valid entry.
    for (size_t k = nd; k < nd + 8; ++k) {
      s.addr[k].v = addr_of(&bt.e[0]);
      s.neg[k].v = 0;
    }
  }

  // 8 lane accumulators in projective form, all starting at the identity.
  const F8 zero{{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                 _mm512_setzero_si512(), _mm512_setzero_si512()}};
  const F8 one = f8_const(fe_one());
  F8 X = zero, Y = one, Z = one;
  auto prefetch = [&](int pos) {
    if (pos < 0) return;
    for (uint32_t k = s.start[pos]; k < s.start[pos + 1]; ++k) {
      const char* e = reinterpret_cast<const char*>(static_cast<uintptr_t>(s.addr[k].v));
      _mm_prefetch(e, _MM_HINT_T0);
      _mm_prefetch(e + 64, _MM_HINT_T0);
      _mm_prefetch(e + 128, _MM_HINT_T0);
    }
  };
  prefetch(top - 1);
  for (int pos = top - 1; pos >= 0; --pos) {
    prefetch(pos - 1);
    P1P1x8 t = p2_dbl(X, Y, Z);
    const size_t first = s.start[pos], m = s.start[pos + 1] - first;
    for (size_t c = 0; c < m; c += 8) {
      const int cnt = (int)min_size(8, m - c);
      const __mmask8 active = (__mmask8)((1u << cnt) - 1);
      uint64_t negbytes;
      std::memcpy(&negbytes, &s.neg[first + c], 8);
      const __mmask8 neg = (__mmask8)(_pext_u64(negbytes, 0x0101010101010101ULL) & active);
      const V vi = _mm512_loadu_si512(&s.addr[first + c]);
      Cachedx8 q;
      F8* fields[4] = {&q.YplusX, &q.YminusX, &q.Z, &q.T2d};
      for (int f = 0; f < 4; ++f)
        for (int k = 0; k < 5; ++k)
          fields[f]->v[k] = _mm512_i64gather_epi64(
              vi, reinterpret_cast<const void*>((uintptr_t)((f * 5 + k) * 8)), 1);
      const P1P1x8 r = add_or_sub(p1p1_to_p3(t), q, neg);
      t.X = f8_blend(active, t.X, r.X);
      t.Y = f8_blend(active, t.Y, r.Y);
      t.Z = f8_blend(active, t.Z, r.Z);
      t.T = f8_blend(active, t.T, r.T);
    }
    const P2x8 a = p1p1_to_p2(t);
    X = a.X;
    Y = a.Y;
    Z = a.Z;
  }
  // Sum the 8 lane accumulators.
  GeP2 lane[8];
  Fe *xs[8], *ys[8], *zs[8];
  for (int j = 0; j < 8; ++j) {
    xs[j] = &lane[j].X;
    ys[j] = &lane[j].Y;
    zs[j] = &lane[j].Z;
  }
  f8_store(xs, 8, X);
  f8_store(ys, 8, Y);
  f8_store(zs, 8, Z);
  GeP3 acc = GeP3{fe_mul(lane[0].X, lane[0].Z), fe_mul(lane[0].Y, lane[0].Z), fe_sq(lane[0].Z),
                  fe_mul(lane[0].X, lane[0].Y)};
  for (int j = 1; j < 8; ++j) {
    const GeP2& l = lane[j];
    const GeP3 p3{fe_mul(l.X, l.Z), fe_mul(l.Y, l.Z), fe_sq(l.Z), fe_mul(l.X, l.Y)};
    acc = ge_p1p1_to_p3(ge_add(acc, ge_p3_to_cached(p3)));
  }
  return ge_p3_to_p2(acc);
}

// ---------------------------------------------------------------------------------------------
// Independent single equations, one per lane.
// ---------------------------------------------------------------------------------------------
/// Terms of one lane: 4 + 4 slices (split) or 2, and -R.
constexpr int kMaxRounds = 9;

/// Signed radix-32 digits of a 64-bit slice: x = sum of d[i] 2^(5 i), d[i] in [-16, 15] for
/// i < 13, d[13] in {0, 1}.
void fixed_digits(uint64_t x, int8_t d[14]) {
  int carry = 0;
  for (int i = 0; i < 13; ++i) {
    int v = (int)((x >> (5 * i)) & 31) + carry;
    carry = v >= 16;
    if (carry) v -= 32;
    d[i] = (int8_t)v;
  }
  d[13] = (int8_t)carry;
}

/// Per position, the table additions of each lane in rounds: round r of position p adds, in
/// every lane whose bit is set in active[p][r], the entry at addr[p][r][lane].
struct LaneScratch {
  LocalVec<GeCached> a_tables;  // window-5 tables of keys that come without one (8 lanes)
  GeCached r_entry[8];          // -R in cached form, one per lane
  int64_t addr[257][kMaxRounds][8];
  uint8_t active[257][kMaxRounds];
  uint8_t neg[257][kMaxRounds];
  uint8_t rounds[257];
  Digit digits[256 / 2 + 2];
};

/// Evaluates up to 8 equations (eqs.size() <= 8), lane j for eqs[j].
void single_lanes8(std::span<const SingleEq> eqs, GeP2* out, LaneScratch& s) {
  const int cnt = (int)eqs.size();
  // Tables of keys without a cached one, built 8 at a time; -R of every lane in cached form.
  const GeCached* a_tab[8];
  int a_w[8];
  {
    const GeP3* pts[8];
    GeCached* outs[8];
    int missing = 0;
    s.a_tables.resize(8 * kEntries);
    for (int j = 0; j < cnt; ++j) {
      if (eqs[j].a_table != nullptr || eqs[j].a_split != nullptr) {  // (split: tables unused)
        a_tab[j] = eqs[j].a_table;
        a_w[j] = eqs[j].a_w;
        continue;
      }
      GeCached* t = &s.a_tables[(size_t)kEntries * missing].v;
      a_tab[j] = t;
      a_w[j] = kW;
      pts[missing] = eqs[j].neg_a;
      outs[missing++] = t;
    }
    if (missing > 0) build_tables8(pts, missing, kEntries, outs);
    const GeP3* rp[8];
    GeCached* ro[8];
    for (int j = 0; j < cnt; ++j) {
      rp[j] = eqs[j].neg_r;
      ro[j] = &s.r_entry[j];
    }
    build_tables8(rp, cnt, 1, ro);
  }
  const GeCached* base = base_table_carried().e;
  std::memset(s.active, 0, sizeof s.active);
  std::memset(s.neg, 0, sizeof s.neg);
  std::memset(s.rounds, 0, sizeof s.rounds);
  int top = 1;
  auto place = [&](int lane, int pos, const GeCached* entry, bool negative) {
    int r = 0;
    while (s.active[pos][r] & (1u << lane)) ++r;  // at most 9 terms per lane and position
    s.addr[pos][r][lane] = addr_of(entry);
    s.active[pos][r] |= (uint8_t)(1u << lane);
    if (negative) s.neg[pos][r] |= (uint8_t)(1u << lane);
    if (s.rounds[pos] < r + 1) s.rounds[pos] = (uint8_t)(r + 1);
  };
  auto place_all = [&](int lane, const Sc& k, int w, const GeCached* table) {
    const size_t nd = wnaf_list(k, w, 0, s.digits, &top);
    for (size_t d = 0; d < nd; ++d) {
      const int v = s.digits[d].value;
      place(lane, s.digits[d].pos, &table[(v > 0 ? v : -v) >> 1], v < 0);
    }
  };
  for (int j = 0; j < cnt; ++j) {
    if (eqs[j].a_split != nullptr) {
      // [k] neg_a + [s] B as four 64-bit slices each: the sum over q of
      // [k_q] ([2^(64 q)] neg_a) + [s_q] ([2^(64 q)] B), in fixed radix-32 windows (every
      // split lane has its digits at the same positions 0, 5, ..., 65).
      for (int q = 0; q < 4; ++q) {
        int8_t dk[14], ds[14];
        fixed_digits(eqs[j].k.v[q], dk);
        fixed_digits(eqs[j].s.v[q], ds);
        const GeCached* bq = base_split_multiples(q);
        for (int i = 0; i < 14; ++i) {
          if (dk[i] != 0)
            place(j, 5 * i, &eqs[j].a_split[q][(dk[i] > 0 ? dk[i] : -dk[i]) - 1], dk[i] < 0);
          if (ds[i] != 0) place(j, 5 * i, &bq[(ds[i] > 0 ? ds[i] : -ds[i]) - 1], ds[i] < 0);
        }
      }
      top = top > 66 ? top : 66;
    } else {
      place_all(j, eqs[j].k, a_w[j], a_tab[j]);
      place_all(j, eqs[j].s, kBaseW, base);
    }
    place(j, 0, &s.r_entry[j], false);  // + (-R), scalar 1
  }
  const F8 zero{{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                 _mm512_setzero_si512(), _mm512_setzero_si512()}};
  const F8 one = f8_const(fe_one());
  F8 X = zero, Y = one, Z = one;
  const V vzero = _mm512_setzero_si512();
  for (int pos = top - 1; pos >= 0; --pos) {
    P1P1x8 t = p2_dbl(X, Y, Z);
    for (int r = 0; r < s.rounds[pos]; ++r) {
      const __mmask8 active = s.active[pos][r];
      const V vi = _mm512_loadu_si512(s.addr[pos][r]);
      Cachedx8 q;
      F8* fields[4] = {&q.YplusX, &q.YminusX, &q.Z, &q.T2d};
      for (int f = 0; f < 4; ++f)
        for (int k = 0; k < 5; ++k)
          fields[f]->v[k] = _mm512_mask_i64gather_epi64(
              vzero, active, vi, reinterpret_cast<const void*>((uintptr_t)((f * 5 + k) * 8)), 1);
      const P1P1x8 sum = add_or_sub(p1p1_to_p3(t), q, s.neg[pos][r]);
      t.X = f8_blend(active, t.X, sum.X);
      t.Y = f8_blend(active, t.Y, sum.Y);
      t.Z = f8_blend(active, t.Z, sum.Z);
      t.T = f8_blend(active, t.T, sum.T);
    }
    const P2x8 a = p1p1_to_p2(t);
    X = a.X;
    Y = a.Y;
    Z = a.Z;
  }
  Fe *xs[8], *ys[8], *zs[8];
  for (int j = 0; j < cnt; ++j) {
    xs[j] = &out[j].X;
    ys[j] = &out[j].Y;
    zs[j] = &out[j].Z;
  }
  f8_store(xs, cnt, X);
  f8_store(ys, cnt, Y);
  f8_store(zs, cnt, Z);
}

void single_many_avx512(std::span<const SingleEq> eqs, GeP2* out) {
  thread_local LaneScratch s;
  // Split equations (64 positions) and full ones (253) in separate passes of 8.
  for (int split = 1; split >= 0; --split) {
    SingleEq group[8];
    size_t at[8];
    size_t cnt = 0;
    auto flush = [&] {
      GeP2 res[8];
      single_lanes8(std::span<const SingleEq>(group, cnt), res, s);
      for (size_t j = 0; j < cnt; ++j) out[at[j]] = res[j];
      cnt = 0;
    };
    for (size_t i = 0; i < eqs.size(); ++i) {
      if ((eqs[i].a_split != nullptr) != (split == 1)) continue;
      group[cnt] = eqs[i];
      at[cnt++] = i;
      if (cnt == 8) flush();
    }
    if (cnt > 0) flush();
  }
}

const Engine kAvx512Engine = {&msm_avx512,        &msm_portable,       &decode_core_avx512,
                              &odd_tables_avx512, &single_many_avx512, true};

}  // namespace

const Engine* avx512_engine() { return &kAvx512Engine; }

}  // namespace assay::crypto::ed25519_batch
