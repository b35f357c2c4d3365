#include "engine/decode.hpp"

#include <gtest/gtest.h>

#include <random>

#include "records.hpp"

namespace assay::engine {
namespace {

// Appends frame bytes to the batch arena at an 8-byte aligned offset, as sources do.
void add_frame(Batch& b, const std::vector<uint8_t>& bytes, RejectCode pre = RejectCode::kNone) {
  b.arena.resize((b.arena.size() + 7) & ~size_t{7});
  Frame f;
  f.offset = static_cast<uint32_t>(b.arena.size());
  f.size = static_cast<uint32_t>(bytes.size());
  f.source_offset = Offset(static_cast<int64_t>(b.frames.size()));
  f.pre_reject = pre;
  b.arena.insert(b.arena.end(), bytes.begin(), bytes.end());
  b.frames.push_back(f);
}

TEST(Decode, SignedReadingBecomesOneRow) {
  Batch b;
  add_frame(b, testing::make_signed(testing::make_reading("s1", 7, 21.5), "k1",
                                    std::vector<uint8_t>(64, 1)));
  ASSERT_EQ(decode_batch(b), 1u);
  ASSERT_EQ(b.sel.size(), 1u);
  EXPECT_EQ(b.frames[0].kind, RecordKind::kSignedReading);
  EXPECT_EQ(b.row_reading[0]->seq(), 7u);
  EXPECT_DOUBLE_EQ(b.row_reading[0]->value(), 21.5);
  // The envelope is decoded once: the key id, the signature and the signed body.
  const auto* sr = wire::GetSignedReading(b.frame_bytes(0).data());
  EXPECT_EQ(b.frames[0].key_id, "k1");
  EXPECT_EQ(b.frames[0].signature.size(), 64u);
  EXPECT_EQ(b.frames[0].alg, static_cast<uint8_t>(wire::SignatureAlg::Ed25519));
  EXPECT_EQ(b.frames[0].signed_bytes.data(), sr->body()->data());  // in place, not copied
}

TEST(Decode, SignedBatchExpandsToOneRowPerReading) {
  Batch b;
  const auto body = testing::make_reading_batch("s2", 100, 5);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.ForceVectorAlignment(body.size(), 1, 8);
  auto bv = fbb.CreateVector(body);
  auto k = fbb.CreateString("k2");
  auto s = fbb.CreateVector(std::vector<uint8_t>(64, 0));
  wire::FinishSignedBatchBuffer(fbb, wire::CreateSignedBatch(fbb, bv, k, wire::SignatureAlg::Ed25519, s));
  add_frame(b, {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()});
  ASSERT_EQ(decode_batch(b), 5u);
  ASSERT_EQ(b.sel.size(), 5u);
  for (uint32_t r = 0; r < 5; ++r) {
    EXPECT_EQ(b.row_frame[r], 0u);
    EXPECT_EQ(b.row_index[r], r);
    EXPECT_EQ(b.row_reading[r]->seq(), 100u + r);
  }
}

TEST(Decode, MisalignedBodyIsCopiedOnceAndStillDecodes) {
  Batch b;
  // A producer that does not align the body vector: find a layout where the body is
  // misaligned by building with an odd-length key id.
  bool saw_misaligned = false;
  for (int pad = 0; pad < 8 && !saw_misaligned; ++pad) {
    Batch t;
    add_frame(t, testing::make_signed(testing::make_reading("s3", 1, 1.0), std::string(1 + pad, 'k'),
                                      std::vector<uint8_t>(63 + pad, 2), wire::SignatureAlg::Ed25519,
                                      /*align_body=*/false));
    ASSERT_EQ(decode_batch(t), 1u);
    ASSERT_EQ(t.sel.size(), 1u) << "pad " << pad;
    EXPECT_EQ(t.row_reading[0]->seq(), 1u);
    const auto* sr = wire::GetSignedReading(t.frame_bytes(0).data());
    if (t.frames[0].signed_bytes.data() != sr->body()->data()) {
      saw_misaligned = true;
      // The copy has the exact same bytes (signatures still cover them).
      const auto body = t.signed_bytes(0);
      ASSERT_EQ(body.size(), sr->body()->size());
      EXPECT_EQ(0, std::memcmp(body.data(), sr->body()->data(), body.size()));
    }
  }
  EXPECT_TRUE(saw_misaligned);
}

TEST(Decode, BadFramesBecomeRejectedRowsWithReasons) {
  Batch b;
  add_frame(b, {1, 2, 3}, RejectCode::kFrameTruncated);
  add_frame(b, std::vector<uint8_t>(16, 0xAB));                       // unknown root
  auto good = testing::make_signed(testing::make_reading("s4", 1, 1.0), "k", std::vector<uint8_t>(64));
  auto corrupt = good;
  corrupt[0] = 0xFF;  // root offset points outside the buffer
  corrupt[1] = 0xFF;
  add_frame(b, corrupt);                                                // verifier failure
  // Valid SignedReading whose body is garbage.
  add_frame(b, testing::make_signed(std::vector<uint8_t>(40, 7), "k", std::vector<uint8_t>(64)));
  // Empty ReadingBatch (unsigned).
  {
    flatbuffers::FlatBufferBuilder fbb;
    wire::FinishReadingBatchBuffer(fbb, wire::CreateReadingBatch(fbb, fbb.CreateVector(std::vector<flatbuffers::Offset<wire::Reading>>{})));
    add_frame(b, {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()});
  }
  add_frame(b, good);
  ASSERT_EQ(decode_batch(b), 6u);
  EXPECT_EQ(b.row_reject[0], RejectCode::kFrameTruncated);
  EXPECT_EQ(b.row_reject[1], RejectCode::kUnknownRoot);
  EXPECT_EQ(b.row_reject[2], RejectCode::kVerifierFailed);
  EXPECT_EQ(b.row_reject[3], RejectCode::kBodyVerifierFailed);
  EXPECT_EQ(b.row_signature[3], static_cast<uint8_t>(wire::SignatureVerdict::Malformed));
  EXPECT_EQ(b.row_reject[4], RejectCode::kEmptyBatch);
  EXPECT_EQ(b.row_reject[5], RejectCode::kNone);
  ASSERT_EQ(b.sel.size(), 1u);
  EXPECT_EQ(b.sel[0], 5u);
}

TEST(Decode, RandomGarbageNeverCrashesAndEveryFrameGetsExactlyOneRowOrItsReadings) {
  std::mt19937_64 rng(42);
  const auto good = testing::make_signed(testing::make_reading("s5", 1, 1.0), "k", std::vector<uint8_t>(64));
  for (int round = 0; round < 200; ++round) {
    Batch b;
    for (int i = 0; i < 50; ++i) {
      std::vector<uint8_t> f = good;
      const int mode = static_cast<int>(rng() % 4);
      if (mode == 0) {
        f.resize(rng() % 200);
        for (auto& x : f) x = static_cast<uint8_t>(rng());
      } else if (mode == 1) {
        for (int k = 0; k < 3; ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
      } else if (mode == 2) {
        f.resize(rng() % f.size());
      }
      add_frame(b, f);
    }
    const size_t rows = decode_batch(b);
    ASSERT_GE(rows, 50u);
    // Every frame has at least one row; accepted rows have a decoded reading.
    std::vector<int> per_frame(50, 0);
    for (uint32_t r = 0; r < b.row_count(); ++r) {
      ++per_frame[b.row_frame[r]];
      if (b.row_reject[r] == RejectCode::kNone) {
        ASSERT_NE(b.row_reading[r], nullptr);
      }
    }
    for (int n : per_frame) ASSERT_GE(n, 1);
  }
}

}  // namespace
}  // namespace assay::engine
