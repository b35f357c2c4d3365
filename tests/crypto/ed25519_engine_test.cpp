// Ed25519 arithmetic engines: the AVX-512 IFMA engine must compute exactly the same group
// elements as the portable one (multi-scalar multiplication and bulk decompression), on random
// and edge-case inputs, including points with torsion components.
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crypto/cpu.hpp"
#include "crypto/ed25519_batch.hpp"
#include "tests/crypto/json_mini.hpp"

namespace assay::crypto {
namespace {

using namespace ed25519_internal;
using ed25519_batch::MsmTerm;

std::array<uint8_t, 32> encode(const GeP2& p) {
  std::array<uint8_t, 32> out;
  ge_encode(out.data(), p);
  return out;
}

GeP3 p2_to_p3(const GeP2& p) {
  return GeP3{fe_mul(p.X, p.Z), fe_mul(p.Y, p.Z), fe_sq(p.Z), fe_mul(p.X, p.Y)};
}

Sc random_scalar(std::mt19937_64& rng, int kind) {
  uint8_t b[64];
  for (auto& x : b) x = (uint8_t)rng();
  switch (kind % 6) {
    case 0: return Sc{{0, 0, 0, 0}};
    case 1: return kScOne;
    case 2: return Sc{{rng(), rng(), rng(), rng() & ((uint64_t{1} << 60) - 1)}};  // < 2^252
    case 3: return Sc{{rng(), rng(), 0, 0}};  // 128-bit, as the batch z_i
    case 4: {
      Sc l1 = kL;
      l1.v[0] -= 1;  // L - 1
      return l1;
    }
    default: return sc_reduce64(b);
  }
}

// Sparse scalars: long runs of zero and one bits (the recoding skips whole runs at once).
Sc sparse_scalar(std::mt19937_64& rng, int kind) {
  switch (kind % 5) {
    case 0:
      return Sc{{rng() % 100, 0, 0, 0}};
    case 1:
      return Sc{{0, rng() & 0xff, 0, 0}};
    case 2:
      return Sc{{~uint64_t{0}, ~uint64_t{0}, 0, uint64_t{1} << 59}};  // runs of ones
    case 3:
      return Sc{{1, 0, 0, uint64_t{1} << 59}};
    default:
      return Sc{{0, 0, rng() & 0xf0f0f0f0f0f0f0f0ULL, 0}};
  }
}

std::vector<GeP3> test_points(std::mt19937_64& rng, size_t n) {
  std::vector<GeP3> pts;
  // Points with torsion components and small order, from ed25519-speccheck.
  const json_mini::Value doc =
      json_mini::parse_file(std::string(ASSAY_TESTVECTORS) + "/ed25519-speccheck/cases.json");
  for (int c : {0, 1, 2, 3, 4, 5}) {
    for (const char* field : {"pub_key", "signature"}) {
      const std::vector<uint8_t> b = json_mini::hex_decode(doc[c][field].str());
      GeP3 p;
      if (ge_decode(p, b.data())) pts.push_back(p);
    }
  }
  pts.push_back(ge_identity());
  while (pts.size() < n) {
    uint8_t b[64];
    for (auto& x : b) x = (uint8_t)rng();
    const Sc k = sc_reduce64(b);
    pts.push_back(p2_to_p3(ed25519_batch::msm_portable(&k, {})));
  }
  std::shuffle(pts.begin(), pts.end(), rng);
  pts.resize(n);
  return pts;
}

const ed25519_batch::Engine* avx512_or_skip() {
  if (!backend_supported(Backend::kAvx512)) return nullptr;
  return ed25519_batch::avx512_engine();
}

TEST(Ed25519Engine, Avx512MsmEqualsPortable) {
  const ed25519_batch::Engine* e = avx512_or_skip();
  if (!e) GTEST_SKIP() << "AVX-512 IFMA engine not available on this CPU";
  std::mt19937_64 rng(11);
  for (size_t n : {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 64, 200, 513}) {
    for (int rep = 0; rep < 3; ++rep) {
      const std::vector<GeP3> pts = test_points(rng, n);
      std::vector<MsmTerm> terms;
      for (size_t i = 0; i < n; ++i)
        terms.push_back(MsmTerm{&pts[i], random_scalar(rng, (int)(i + rep)), 5});
      const Sc base = random_scalar(rng, rep + 2);
      for (const Sc* b : {&base, static_cast<const Sc*>(nullptr)}) {
        const GeP2 want = ed25519_batch::msm_portable(b, terms);
        const GeP2 got = e->msm(b, terms);
        EXPECT_EQ(encode(got), encode(want)) << "n=" << n << " rep=" << rep;
        // The cofactored identity test used for verdicts must agree too.
        EXPECT_EQ(ge_mul8_is_identity(got), ge_mul8_is_identity(want));
      }
    }
  }
}

// The same with sparse scalars and with cached tables (window 7, as the key cache builds them).
TEST(Ed25519Engine, Avx512MsmEqualsPortableSparseScalarsAndCachedTables) {
  const ed25519_batch::Engine* e = avx512_or_skip();
  if (!e) GTEST_SKIP() << "AVX-512 IFMA engine not available on this CPU";
  std::mt19937_64 rng(13);
  for (size_t n : {1, 2, 9, 40}) {
    const std::vector<GeP3> pts = test_points(rng, n);
    std::vector<std::vector<GeCached>> tables(n, std::vector<GeCached>(32));
    std::vector<const GeP3*> pp(n);
    std::vector<GeCached*> out(n);
    for (size_t i = 0; i < n; ++i) {
      pp[i] = &pts[i];
      out[i] = tables[i].data();
    }
    e->odd_tables(pp.data(), n, 7, out.data());
    std::vector<std::vector<GeCached>> ptables(n, std::vector<GeCached>(32));
    for (size_t i = 0; i < n; ++i) out[i] = ptables[i].data();
    ed25519_batch::odd_tables_portable(pp.data(), n, 7, out.data());
    for (int rep = 0; rep < 10; ++rep) {
      std::vector<MsmTerm> terms;
      for (size_t i = 0; i < n; ++i) {
        const Sc k = sparse_scalar(rng, (int)(i + rep));
        // Alternate: built table (window 5), the engine's cached table, the portable one.
        if ((i + rep) % 3 == 0)
          terms.push_back(MsmTerm{&pts[i], k, 5});
        else if ((i + rep) % 3 == 1)
          terms.push_back(MsmTerm{&pts[i], k, 7, tables[i].data()});
        else
          terms.push_back(MsmTerm{&pts[i], k, 7, ptables[i].data()});
      }
      const Sc base = sparse_scalar(rng, rep);
      std::vector<MsmTerm> plain;
      for (const MsmTerm& t : terms) plain.push_back(MsmTerm{t.point, t.scalar, 5});
      const GeP2 want = ed25519_batch::msm_portable(&base, plain);
      EXPECT_EQ(encode(e->msm(&base, terms)), encode(want)) << "n=" << n << " rep=" << rep;
      EXPECT_EQ(encode(ed25519_batch::msm_portable(&base, terms)), encode(want))
          << "n=" << n << " rep=" << rep;
    }
  }
}

// Independent equations, 8 per pass in the AVX-512 lanes: the same group element per equation
// as the portable code, with torsion points, edge scalars, built and cached (window 7) tables,
// and every group size around 8.
TEST(Ed25519Engine, Avx512SingleManyEqualsPortable) {
  const ed25519_batch::Engine* e = avx512_or_skip();
  if (!e) GTEST_SKIP() << "AVX-512 IFMA engine not available on this CPU";
  std::mt19937_64 rng(17);
  for (size_t n : {1, 2, 7, 8, 9, 16, 23, 64}) {
    const std::vector<GeP3> as = test_points(rng, n);
    const std::vector<GeP3> rs = test_points(rng, n);
    std::vector<std::vector<GeCached>> tables(n, std::vector<GeCached>(32));
    std::vector<const GeP3*> pp(n);
    std::vector<GeCached*> out(n);
    for (size_t i = 0; i < n; ++i) {
      pp[i] = &as[i];
      out[i] = tables[i].data();
    }
    e->odd_tables(pp.data(), n, 7, out.data());
    // Split tables: the multiples 1..16 of [2^(64 q)] A, q = 0..3.
    std::vector<std::vector<std::vector<GeCached>>> split(
        n,
        std::vector<std::vector<GeCached>>(4, std::vector<GeCached>(ed25519_batch::kSplitEntries)));
    std::vector<std::array<const GeCached*, 4>> split_ptr(n);
    for (size_t i = 0; i < n; ++i) {
      GeP3 p = as[i];
      for (int q = 0; q < 4; ++q) {
        ed25519_batch::all_multiples_carried(split[i][q].data(), p, ed25519_batch::kSplitEntries);
        split_ptr[i][q] = split[i][q].data();
        p = ed25519_batch::times_2_64(p);
      }
    }
    for (int rep = 0; rep < 6; ++rep) {
      std::vector<ed25519_batch::SingleEq> eqs;
      for (size_t i = 0; i < n; ++i) {
        const bool cached = (i + (size_t)rep) % 2 == 0;
        const Sc k = rep == 3 ? sparse_scalar(rng, (int)i) : random_scalar(rng, (int)(i + rep));
        const Sc s = rep == 2 ? sparse_scalar(rng, (int)i + 1) : random_scalar(rng, (int)i + 3);
        // rep 4: every equation split; rep 5: split and full ones mixed.
        const bool use_split = rep == 4 || (rep == 5 && i % 3 != 0);
        eqs.push_back({&as[i], cached ? tables[i].data() : nullptr, 7, &rs[i], s, k,
                       use_split ? split_ptr[i].data() : nullptr});
      }
      std::vector<GeP2> want(n), got(n);
      ed25519_batch::single_many_portable(eqs, want.data());
      e->single_many(eqs, got.data());
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(encode(got[i]), encode(want[i])) << "n=" << n << " rep=" << rep << " i=" << i;
        EXPECT_EQ(ge_mul8_is_identity(got[i]), ge_mul8_is_identity(want[i]));
        // And each equals a one-term-at-a-time evaluation.
        const MsmTerm terms[2] = {{&as[i], eqs[i].k, 5}, {&rs[i], kScOne, 2}};
        EXPECT_EQ(encode(want[i]), encode(ed25519_batch::msm_portable(&eqs[i].s, terms)));
      }
    }
  }
}

TEST(Ed25519Engine, Avx512DecodeEqualsPortable) {
  const ed25519_batch::Engine* e = avx512_or_skip();
  if (!e) GTEST_SKIP() << "AVX-512 IFMA engine not available on this CPU";
  std::mt19937_64 rng(12);
  for (size_t n : {1, 5, 8, 9, 16, 31, 100}) {
    std::vector<std::array<uint8_t, 32>> enc(n);
    for (size_t i = 0; i < n; ++i) {
      for (auto& x : enc[i]) x = (uint8_t)rng();
      if (i % 5 == 0) enc[i].fill(0);  // y = 0
      if (i % 5 == 1) {                // y = p - 1
        enc[i].fill(0xff);
        enc[i][0] = 0xec;
      }
      if (i % 5 == 2) {  // large y
        enc[i][31] = 0x7f;
        enc[i][30] = 0xff;
      }
      enc[i][31] &= 0x7f;
      if (!fe_bytes_canonical(enc[i].data())) enc[i][0] = 0;
    }
    std::vector<Fe> y(n), x1(n), u1(n), v1(n), x2(n), u2(n), v2(n);
    for (size_t i = 0; i < n; ++i) y[i] = fe_frombytes(enc[i].data());
    ed25519_batch::decode_core_portable(y.data(), x1.data(), u1.data(), v1.data(), n);
    e->decode_core(y.data(), x2.data(), u2.data(), v2.data(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(fe_equal(x1[i], x2[i])) << i;
      EXPECT_TRUE(fe_equal(u1[i], u2[i])) << i;
      EXPECT_TRUE(fe_equal(v1[i], v2[i])) << i;
      GeP3 p1, p2;
      const bool ok1 = ge_decode_finish(p1, enc[i].data(), y[i], x1[i], u1[i], v1[i]);
      const bool ok2 = ge_decode_finish(p2, enc[i].data(), y[i], x2[i], u2[i], v2[i]);
      EXPECT_EQ(ok1, ok2);
      if (ok1 && ok2) {
        EXPECT_EQ(encode(ge_p3_to_p2(p1)), enc[i]);
        EXPECT_EQ(encode(ge_p3_to_p2(p2)), enc[i]);
      }
    }
  }
}

TEST(Ed25519Engine, PortableScalarArithmetic) {
  // L reduces to 0, L - 1 + 1 = 0, and (2^256 - 1) mod L against a known value.
  uint8_t b[64] = {};
  sc_store32(b, kL);
  Sc r = sc_reduce64(b);
  EXPECT_EQ(r.v[0] | r.v[1] | r.v[2] | r.v[3], 0u);
  Sc l1 = kL;
  l1.v[0] -= 1;
  r = sc_add(l1, kScOne);
  EXPECT_EQ(r.v[0] | r.v[1] | r.v[2] | r.v[3], 0u);
  // (L-1)^2 = 1 mod L.
  r = sc_mul(l1, l1);
  EXPECT_EQ(r.v[0], 1u);
  EXPECT_EQ(r.v[1] | r.v[2] | r.v[3], 0u);
  // 2^512 - 1 mod L: compare with 2^512 mod L (= R2) minus 1.
  std::memset(b, 0xff, 64);
  r = sc_reduce64(b);
  Sc want = kScR2;
  want = sc_add(want, l1);  // R2 - 1 mod L
  EXPECT_EQ(std::memcmp(&r, &want, sizeof r), 0);
}

}  // namespace
}  // namespace assay::crypto
