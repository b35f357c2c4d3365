// The portable ECDSA point engine (crypto/ec52.hpp on one 64-bit lane), the curve constants of
// both engines (read from OpenSSL's built-in curve data once), the static comb tables of G, and
// the scalar arithmetic mod n shared by every path (u1 = e/s, u2 = r/s with one inversion per
// batch).
#include "crypto/ec_engine.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "crypto/ec52.hpp"
#include "crypto/ecdsa_p256_internal.hpp"

namespace assay::crypto::detail {

namespace {

// ---- small multi-precision helpers on little-endian 64-bit limbs ---------------------------

bool geq_n(const u64* a, const u64* b, int n) {
  for (int k = n - 1; k >= 0; --k) {
    if (a[k] != b[k]) return a[k] > b[k];
  }
  return true;
}

// a = (2a) mod m for a < m (k limbs).
void double_mod(u64* a, const u64* m, int k) {
  u64 carry = 0;
  for (int i = 0; i < k; ++i) {
    const u64 nc = a[i] >> 63;
    a[i] = (a[i] << 1) | carry;
    carry = nc;
  }
  if (carry != 0 || geq_n(a, m, k)) {
    u64 borrow = 0;
    for (int i = 0; i < k; ++i) {
      const u128 d = static_cast<u128>(a[i]) - m[i] - borrow;
      a[i] = static_cast<u64>(d);
      borrow = static_cast<u64>(d >> 64) & 1;
    }
  }
}

// x·2^e mod m (x < m).
void shift_mod(u64* x, int e, const u64* m, int k) {
  for (int i = 0; i < e; ++i) double_mod(x, m, k);
}

void bn_to_limbs(const BIGNUM* b, u64* out, int limbs) {
  uint8_t be[8 * kEcMaxL] = {};
  BN_bn2binpad(b, be, 8 * limbs);
  ec_load_be(out, limbs, be);
}

// ---- scalar arithmetic mod n (Montgomery, R = 2^(64L)) --------------------------------------

template <int L>
struct ModN {
  const EcCurveParams& c;

  // r = a·b·R^-1 mod n for a < R, b < n. r may alias a or b.
  void mul(u64* r, const u64* a, const u64* b) const {
    u64 t[kEcMaxL + 2] = {};
    for (int i = 0; i < L; ++i) {
      u128 carry = 0;
      for (int j = 0; j < L; ++j) {
        carry += static_cast<u128>(a[j]) * b[i] + t[j];
        t[j] = static_cast<u64>(carry);
        carry >>= 64;
      }
      carry += t[L];
      t[L] = static_cast<u64>(carry);
      t[L + 1] = static_cast<u64>(carry >> 64);
      const u64 q = t[0] * c.n0inv;
      carry = static_cast<u128>(q) * c.n[0] + t[0];
      carry >>= 64;
      for (int j = 1; j < L; ++j) {
        carry += static_cast<u128>(q) * c.n[j] + t[j];
        t[j - 1] = static_cast<u64>(carry);
        carry >>= 64;
      }
      carry += t[L];
      t[L - 1] = static_cast<u64>(carry);
      t[L] = t[L + 1] + static_cast<u64>(carry >> 64);
    }
    if (t[L] != 0 || geq_n(t, c.n, L)) {
      u64 borrow = 0;
      for (int j = 0; j < L; ++j) {
        const u128 d = static_cast<u128>(t[j]) - c.n[j] - borrow;
        t[j] = static_cast<u64>(d);
        borrow = static_cast<u64>(d >> 64) & 1;
      }
    }
    std::memcpy(r, t, 8 * static_cast<size_t>(L));
  }

  // r = a^(n-2) (Montgomery in, Montgomery out): the inverse of a != 0.
  void inv(u64* r, const u64* a) const {
    u64 e[kEcMaxL];
    std::memcpy(e, c.n, sizeof e);
    // n is odd and > 2: n - 2 never borrows beyond limb 0 for these curves' orders.
    e[0] -= 2;
    u64 acc[kEcMaxL], base[kEcMaxL];
    std::memcpy(base, a, sizeof base);
    // acc = R mod n (1 in Montgomery form) = mont(1, R^2).
    const u64 one[kEcMaxL] = {1, 0, 0, 0, 0, 0};
    mul(acc, one, c.n_rr);
    for (int bit = 64 * L - 1; bit >= 0; --bit) {
      mul(acc, acc, acc);
      if ((e[bit / 64] >> (bit % 64)) & 1) mul(acc, acc, base);
    }
    std::memcpy(r, acc, 8 * static_cast<size_t>(L));
  }
};

// ---- curve setup ---------------------------------------------------------------------------

// Generic field helpers on one lane, for building tables.
template <int N>
struct Setup {
  using F = Field<Lane1, N, false>;
  using Fe = typename F::Fe;

  static Fe from64(const u64* x, int limbs) {
    u64 t[N];
    limbs64_to_52<N>(x, limbs, t);
    Fe r;
    for (int j = 0; j < N; ++j) r.l[j] = t[j];
    return r;
  }

  // a^(p-2).
  static Fe inv(const F& f, const EcCurveParams& c, const Fe& a) {
    u64 e[kEcMaxL];
    std::memcpy(e, c.p, sizeof e);
    e[0] -= 2;  // p is odd and > 2, limb 0 of these primes is >= 2
    Fe acc = f.one();
    for (int bit = 64 * c.L - 1; bit >= 0; --bit) {
      acc = f.sqr(acc);
      if ((e[bit / 64] >> (bit % 64)) & 1) acc = f.mul(acc, a);
    }
    return acc;
  }

  // Canonical 52-bit limbs of a (fully reduced mod p).
  static void canon(const Fe& a, const EcCurveParams& c, u64* out52) {
    u64 v52[N], v64[kEcMaxL];
    for (int j = 0; j < N; ++j) v52[j] = a.l[j];
    reduce_mod_p<N>(v52, c, v64);
    limbs64_to_52<N>(v64, c.L, out52);
  }

  // Static comb table of G in the engines' representation (see EcCurveParams::g_table).
  static std::vector<u64> g_table(const EcCurveParams& c, const u64* gx, const u64* gy) {
    const F f{c.f};
    const Fe rr = F::constant(c.f.rr);
    const Fe x = f.mul(from64(gx, c.L), rr);
    const Fe y = f.mul(from64(gy, c.L), rr);
    const int per = 1 << (c.g_window - 1);
    const size_t count = static_cast<size_t>(c.g_windows) * per;
    std::vector<Jac<F>> pts(count);
    Jac<F> base{x, y, f.one()};
    for (int i = 0; i < c.g_windows; ++i) {
      Jac<F>* row = &pts[static_cast<size_t>(i) * per];
      row[0] = base;
      row[1] = point_dbl(f, base, c.f.a_is_minus3);
      // row[j] = (j + 1)·base for j >= 2: row[j - 1] = j·base is never ±base nor infinity
      // (G has order n > 2^255), so the addition formula is exact.
      for (int j = 2; j < per; ++j) row[j] = point_add(f, row[j - 1], base);
      for (int k = 0; k < c.g_window; ++k) base = point_dbl(f, base, c.f.a_is_minus3);
    }
    // Batch to affine: one inversion (Montgomery's trick).
    std::vector<Fe> prefix(count);
    prefix[0] = pts[0].Z;
    for (size_t k = 1; k < count; ++k) prefix[k] = f.mul(prefix[k - 1], pts[k].Z);
    Fe inv_all = inv(f, c, prefix[count - 1]);
    std::vector<u64> out(count * 2 * N);
    for (size_t k = count; k-- > 0;) {
      Fe zinv;
      if (k > 0) {
        zinv = f.mul(inv_all, prefix[k - 1]);
        inv_all = f.mul(inv_all, pts[k].Z);
      } else {
        zinv = inv_all;
      }
      const Fe z2 = f.sqr(zinv);
      const Fe z3 = f.mul(z2, zinv);
      canon(f.mul(pts[k].X, z2), c, &out[k * 2 * N]);
      canon(f.mul(pts[k].Y, z3), c, &out[k * 2 * N + N]);
    }
    return out;
  }
};

// 52-bit limbs of x (< 2^(52·N)) from 64-bit limbs.
void to52(const u64* x, int limbs, int n, u64* out) {
  for (int j = 0; j < n; ++j) {
    const int bit = 52 * j, limb = bit / 64, sh = bit % 64;
    u64 v = limb < limbs ? x[limb] >> sh : 0;
    if (sh > 12 && limb + 1 < limbs) v |= x[limb + 1] << (64 - sh);
    out[j] = v & kMask52;
  }
}

struct CurveStore {
  EcCurveParams params{};
  std::vector<u64> g_table;  // non-P-256 curves
};

std::unique_ptr<CurveStore> build_curve(EcCurveId id) {
  auto store = std::make_unique<CurveStore>();
  EcCurveParams& c = store->params;
  c.id = id;
  int nid = 0;
  switch (id) {
    case EcCurveId::kP256:
      nid = NID_X9_62_prime256v1;
      c.N = 5;
      break;
    case EcCurveId::kP384:
      nid = NID_secp384r1;
      c.N = 8;
      break;
    case EcCurveId::kBrainpoolP256r1:
      nid = NID_brainpoolP256r1;
      c.N = 6;
      break;
    case EcCurveId::kBrainpoolP384r1:
      nid = NID_brainpoolP384r1;
      c.N = 8;
      break;
  }
  EC_GROUP* g = EC_GROUP_new_by_curve_name(nid);
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM* p = BN_new();
  BIGNUM* a = BN_new();
  BIGNUM* b = BN_new();
  BIGNUM* gx = BN_new();
  BIGNUM* gy = BN_new();
  if (g == nullptr || ctx == nullptr || p == nullptr || a == nullptr || b == nullptr ||
      gx == nullptr || gy == nullptr || EC_GROUP_get_curve(g, p, a, b, ctx) != 1 ||
      EC_POINT_get_affine_coordinates(g, EC_GROUP_get0_generator(g), gx, gy, ctx) != 1) {
    throw std::runtime_error("OpenSSL lacks an ECDSA curve");
  }
  c.bits = BN_num_bits(p);
  c.bytes = (c.bits + 7) / 8;
  c.L = (c.bits + 63) / 64;
  bn_to_limbs(p, c.p, c.L);
  bn_to_limbs(EC_GROUP_get0_order(g), c.n, c.L);
  u64 av[kEcMaxL] = {}, gxv[kEcMaxL] = {}, gyv[kEcMaxL] = {};
  bn_to_limbs(a, av, c.L);
  bn_to_limbs(gx, gxv, c.L);
  bn_to_limbs(gy, gyv, c.L);
  // a == p - 3 ?
  u64 pm3[kEcMaxL];
  std::memcpy(pm3, c.p, sizeof pm3);
  pm3[0] -= 3;
  c.f.a_is_minus3 = std::memcmp(pm3, av, 8 * static_cast<size_t>(c.L)) == 0;
  BN_free(p);
  BN_free(a);
  BN_free(b);
  BN_free(gx);
  BN_free(gy);
  BN_CTX_free(ctx);
  EC_GROUP_free(g);

  // Scalar Montgomery constants mod n.
  u64 inv = 1;
  for (int i = 0; i < 7; ++i) inv *= 2 - c.n[0] * inv;
  c.n0inv = ~inv + 1;
  u64 t[kEcMaxL] = {1};
  shift_mod(t, 128 * c.L, c.n, c.L);
  std::memcpy(c.n_rr, t, sizeof t);

  // Field constants, R = 2^(52N).
  to52(c.p, c.L, c.N, c.f.p);
  u64 pinv = 1;
  for (int i = 0; i < 7; ++i) pinv *= 2 - c.p[0] * pinv;
  c.f.k0 = (~pinv + 1) & kMask52;
  const int rbits = 52 * c.N;
  u64 one[kEcMaxL] = {1};
  shift_mod(one, rbits, c.p, c.L);
  to52(one, c.L, c.N, c.f.one);
  u64 rr[kEcMaxL];
  std::memcpy(rr, one, sizeof rr);
  shift_mod(rr, rbits, c.p, c.L);
  to52(rr, c.L, c.N, c.f.rr);
  shift_mod(av, rbits, c.p, c.L);
  to52(av, c.L, c.N, c.f.a);
  // m·p, normalized (m·p < 2^(52N) for every m <= kEcMaxM on these fields).
  for (int m = 0; m <= kEcMaxM; ++m) {
    u64 mp[kEcMaxL + 1] = {};
    u64 carry = 0;
    for (int k = 0; k < c.L; ++k) {
      const u128 x = static_cast<u128>(c.p[k]) * static_cast<u64>(m) + carry;
      mp[k] = static_cast<u64>(x);
      carry = static_cast<u64>(x >> 64);
    }
    mp[c.L] = carry;
    to52(mp, c.L + 1, c.N, c.f.mp[m]);
  }

  c.q_windows = (c.bits + 1 + 4) / 5;
  if (id == EcCurveId::kP256) {
    // The P-256 engine's reduction assumes this prime's shape.
    if (c.f.k0 != 1 || c.f.p[0] != kMask52 || c.f.p[1] != 0x00000FFFFFFFFFFFULL || c.f.p[2] != 0 ||
        c.f.p[3] != 0x0000001000000000ULL || c.f.p[4] != 0x0000FFFFFFFF0000ULL) {
      throw std::logic_error("P-256 constants do not match the engine");
    }
    c.g_window = 8;
    c.g_windows = 33;
    c.g_table = p256_g_table();
  } else {
    c.g_window = 7;
    c.g_windows = (c.bits + 1 + c.g_window - 1) / c.g_window;
    switch (c.N) {
      case 6:
        store->g_table = Setup<6>::g_table(c, gxv, gyv);
        break;
      case 8:
        store->g_table = Setup<8>::g_table(c, gxv, gyv);
        break;
      default:
        throw std::logic_error("unsupported limb count");
    }
    c.g_table = store->g_table.data();
  }
  return store;
}

}  // namespace

EcCounters& ec_thread_counters() {
  thread_local EcCounters c;
  return c;
}

void ec_load_be(uint64_t* limbs, int count, const uint8_t* be) {
  for (int j = 0; j < count; ++j) {
    u64 x = 0;
    for (int k = 0; k < 8; ++k) x = (x << 8) | be[(count - 1 - j) * 8 + k];
    limbs[j] = x;
  }
}

const EcCurveParams& ec_curve_params(EcCurveId id) {
  static std::once_flag once[4];
  static std::unique_ptr<CurveStore> stores[4];
  const size_t i = static_cast<size_t>(id);
  std::call_once(once[i], [&] { stores[i] = build_curve(id); });
  return stores[i]->params;
}

namespace {

template <int L>
void prepare(const EcCurveParams& c, const EcScalarInput* in, size_t n, EcPointJob* out) {
  const ModN<L> mod{c};
  constexpr size_t kChunk = 128;
  u64 sm[kChunk][kEcMaxL], prefix[kChunk][kEcMaxL];
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = n - base < kChunk ? n - base : kChunk;
    for (size_t i = 0; i < m; ++i) {
      u64 s[kEcMaxL] = {};
      ec_load_be(s, L, in[base + i].s);
      mod.mul(sm[i], s, c.n_rr);  // s·R
      if (i == 0) {
        std::memcpy(prefix[0], sm[0], sizeof prefix[0]);
      } else {
        mod.mul(prefix[i], prefix[i - 1], sm[i]);
      }
    }
    u64 inv[kEcMaxL];
    mod.inv(inv, prefix[m - 1]);  // (s_0 … s_m-1)^-1 · R
    for (size_t i = m; i-- > 0;) {
      u64 w[kEcMaxL];
      if (i > 0) {
        mod.mul(w, inv, prefix[i - 1]);  // s_i^-1 · R
        mod.mul(inv, inv, sm[i]);
      } else {
        std::memcpy(w, inv, sizeof w);
      }
      EcPointJob& j = out[base + i];
      u64 e[kEcMaxL] = {}, r[kEcMaxL] = {};
      ec_load_be(e, L, in[base + i].e);
      ec_load_be(r, L, in[base + i].r);
      // Montgomery product of a plain value with w·R gives the plain product (mod n).
      mod.mul(j.u1, e, w);
      mod.mul(j.u2, r, w);
      std::memcpy(j.r, r, sizeof r);
      u64 carry = 0;
      for (int k = 0; k < L; ++k) {
        const u128 x = static_cast<u128>(r[k]) + c.n[k] + carry;
        j.rn[k] = static_cast<u64>(x);
        carry = static_cast<u64>(x >> 64);
      }
      j.has_rn = carry == 0 && !geq_n(j.rn, c.p, L) ? 1 : 0;
      for (int k = L; k < kEcMaxL; ++k) {
        j.u1[k] = j.u2[k] = j.r[k] = j.rn[k] = 0;
      }
    }
  }
}

}  // namespace

void ec_prepare(const EcCurveParams& c, const EcScalarInput* in, size_t n, EcPointJob* out) {
  if (c.L == 4) {
    prepare<4>(c, in, n, out);
  } else {
    prepare<6>(c, in, n, out);
  }
}

void ec_verify_portable(const EcCurveParams& c, const EcPointJob* jobs, size_t n, uint8_t* out) {
  switch (c.id) {
    case EcCurveId::kP256:
      Engine<Lane1, 5, true>::run(c, jobs, n, out);
      break;
    case EcCurveId::kBrainpoolP256r1:
      Engine<Lane1, 6, false>::run(c, jobs, n, out);
      break;
    case EcCurveId::kP384:
    case EcCurveId::kBrainpoolP384r1:
      Engine<Lane1, 8, false>::run(c, jobs, n, out);
      break;
  }
}

}  // namespace assay::crypto::detail
