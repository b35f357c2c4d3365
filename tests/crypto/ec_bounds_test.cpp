// The bound checker of crypto/ec52.hpp: replays the point formulas and the engine's loops on
// bounds instead of values (an element is described by k: value < k·p) and asserts that
//  - every value stays representable (k < H = R/p: 2^(52N) is the largest value N normalized
//    limbs hold),
//  - every subtraction a - b + m·p adds at least b (m >= k_b), so no result is negative,
//  - the accumulators' bounds reach a fixed point (the loops can run for any number of steps).
// Montgomery multiplication bound: out < a·b/R + p, i.e. k_out = k_a·k_b/H + 1.
// Two kinds of field: P-256 (H = 16, fold() to 1.01·p, a = -3) and the others (H = 2^32, no
// folding; a = -3 for P-384, any a for brainpool).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "crypto/ec52.hpp"

namespace assay::crypto::detail {
namespace {

struct BoundField {
  using Mask = uint8_t;
  struct Fe {
    double k;
  };
  struct Consts {
    uint64_t a[kEcMaxN] = {};
  };
  double H;
  bool p256;
  Consts c;
  mutable std::string* failures;

  void fail(const std::string& msg) const {
    if (failures->find(msg) == std::string::npos) *failures += msg;
  }
  void check(double k, const char* what) const {
    if (!(k < H)) fail(std::string(what) + ": bound " + std::to_string(k) + " >= H\n");
  }
  Fe mul(Fe a, Fe b) const {
    check(a.k, "mul input");
    check(b.k, "mul input");
    const Fe r{a.k * b.k / H + 1.0};
    check(r.k, "mul output");
    return r;
  }
  Fe sqr(Fe a) const { return mul(a, a); }
  Fe add(Fe a, Fe b) const {
    const Fe r{a.k + b.k};
    check(r.k, "add");
    return r;
  }
  template <int kMp, int kMg>
  Fe sub(Fe a, Fe b) const {
    const int m = p256 ? kMp : kMg;
    if (!(b.k <= m)) {
      fail("sub<" + std::to_string(kMp) + ", " + std::to_string(kMg) + ">: subtrahend bound " +
           std::to_string(b.k) + " > m\n");
    }
    const Fe r{a.k + m};
    check(r.k, "sub");
    return r;
  }
  template <int kMp, int kMg>
  Fe neg(Fe a) const {
    return sub<kMp, kMg>(Fe{0}, a);
  }
  Fe add_nn(Fe a, Fe b) const { return add(a, b); }
  template <int K>
  Fe mul_small_nn(Fe a) const {
    return mul_small<K>(a);
  }
  template <int K>
  Fe mul_small(Fe a) const {
    const Fe r{K * a.k};
    check(r.k, "mul_small");
    return r;
  }
  Fe fold(Fe a) const {
    check(a.k, "fold input");
    // x' < 2^256 + 2^228 <= 1.0000001·p.
    return p256 ? Fe{1.0000001} : a;
  }
  Fe one() const { return Fe{1}; }
  static Fe constant(const uint64_t*) { return Fe{1}; }
  static Fe zero() { return Fe{0}; }
  static Fe select(Mask, Fe a, Fe b) { return Fe{std::max(a.k, b.k)}; }
};

using J = Jac<BoundField>;

J jmax(const J& a, const J& b) {
  return J{{std::max(a.X.k, b.X.k)}, {std::max(a.Y.k, b.Y.k)}, {std::max(a.Z.k, b.Z.k)}};
}

// The engine's cold path (table of 1..16·Q, 5 doublings + 1 addition per window, then the comb of
// G and the final comparison) and the P-256 comb path, on bounds.
std::string replay(double H, bool p256, bool a_minus3) {
  std::string failures;
  const BoundField f{H, p256, {}, &failures};
  using Fe = BoundField::Fe;
  // Q from plain coordinates (< p) times R^2 mod p (< p).
  const Fe qx = f.mul(Fe{1}, Fe{1}), qy = f.mul(Fe{1}, Fe{1});
  J cur{qx, qy, f.one()};
  J table = cur;
  cur = point_dbl(f, cur, a_minus3);
  table = jmax(table, cur);
  for (int e = 2; e < 16; ++e) {
    cur = point_madd(f, cur, qx, qy);
    table = jmax(table, cur);
  }
  // Comb entries: P-256 tables are loaded as 16·x' and folded; the others are canonical.
  const Fe cx = p256 ? f.fold(Fe{16}) : Fe{1}, cy = p256 ? f.fold(Fe{16}) : Fe{1};
  uint8_t inf = 1;
  J acc{Fe{0}, Fe{0}, Fe{0}};
  J prev{};
  for (int it = 0; it < 200; ++it) {
    for (int k = 0; k < 5; ++k) acc = point_dbl(f, acc, a_minus3);
    acc_add_jac(f, acc, inf, 1, 1, table);
    if (it == 100) prev = acc;
  }
  if (acc.X.k > prev.X.k || acc.Y.k > prev.Y.k || acc.Z.k > prev.Z.k)
    failures += "cold accumulator bounds do not settle\n";
  J g = acc;
  for (int it = 0; it < 200; ++it) {
    acc_add_affine(f, g, inf, 1, 1, cx, cy);
    if (it == 100) prev = g;
  }
  if (g.X.k > prev.X.k || g.Y.k > prev.Y.k || g.Z.k > prev.Z.k)
    failures += "comb accumulator bounds do not settle\n";
  // Hot path: comb additions only, starting from an entry.
  J hot{cx, cy, f.one()};
  for (int it = 0; it < 200; ++it) acc_add_affine(f, hot, inf, 1, 1, cx, cy);
  g = jmax(g, hot);
  const Fe rm = f.mul(Fe{1}, Fe{1});
  (void)final_diff(f, rm, f.sqr(g.Z), g.X);
  return failures;
}

TEST(EcBounds, P256FormulasStayInRange) {
  EXPECT_EQ(replay(16.000000003, true, true), "");  // 2^260 / p = 16 / (1 - 2^-32 + ...)
}

TEST(EcBounds, P384FormulasStayInRange) {
  EXPECT_EQ(replay(4294967296.0, false, true), "");  // R/p >= 2^32
}

TEST(EcBounds, BrainpoolFormulasStayInRange) {
  EXPECT_EQ(replay(4294967296.0, false, false), "");  // any a; R/p >= 2^32 (N = 6: 2^56)
}

// The checker itself must catch a violation: a P-256 subtraction with too small a multiple.
TEST(EcBounds, CheckerCatchesTooSmallMultiple) {
  std::string failures;
  const BoundField f{16.0, true, {}, &failures};
  (void)f.sub<1, 1>(BoundField::Fe{1}, BoundField::Fe{1.5});
  EXPECT_NE(failures, "");
}

}  // namespace
}  // namespace assay::crypto::detail
