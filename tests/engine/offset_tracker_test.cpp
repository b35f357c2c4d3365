#include "engine/offset_tracker.hpp"

#include <gtest/gtest.h>

namespace assay::engine {
namespace {

TEST(OffsetTracker, CommitsOnlyContiguousDonePrefix) {
  OffsetTracker t;
  const Partition p(3);
  const uint64_t a = t.register_frame(p, Offset(10), 2);
  const uint64_t b = t.register_frame(p, Offset(11), 1);
  const uint64_t c = t.register_frame(p, Offset(12), 1);
  EXPECT_FALSE(t.take_committable(p));
  t.ack(c, true);  // later record done first: nothing committable
  EXPECT_FALSE(t.take_committable(p));
  t.ack(a, true);  // one of two outputs
  EXPECT_FALSE(t.take_committable(p));
  t.ack(a, true);
  EXPECT_EQ(t.take_committable(p), Offset(11));
  EXPECT_FALSE(t.take_committable(p));  // consumed
  t.ack(b, true);
  EXPECT_EQ(t.take_committable(p), Offset(13));
  EXPECT_EQ(t.pending(), 0u);
}

TEST(OffsetTracker, BatchRegistrationMatchesOneByOne) {
  OffsetTracker t;
  const Offset offs[] = {Offset(4), Offset(5), Offset(7)};
  const uint32_t outs[] = {1, 2, 1};
  uint64_t tok[3];
  t.register_frames(Partition(2), offs, outs, tok);
  EXPECT_EQ(t.pending(), 3u);
  t.ack(tok[0], true);
  t.ack(tok[2], true);
  EXPECT_EQ(t.take_committable(Partition(2)), Offset(5));
  t.ack(tok[1], true);
  EXPECT_FALSE(t.take_committable(Partition(2)));  // one of two outputs still pending
  t.ack(tok[1], true);
  EXPECT_EQ(t.take_committable(Partition(2)), Offset(8));  // offsets need not be contiguous
}

TEST(OffsetTracker, FailedOutputBlocksCommitsPastIt) {
  OffsetTracker t;
  const Partition p(0);
  const uint64_t a = t.register_frame(p, Offset(0), 1);
  const uint64_t b = t.register_frame(p, Offset(1), 1);
  const uint64_t c = t.register_frame(p, Offset(2), 1);
  t.ack(a, true);
  t.ack(b, false);
  t.ack(c, true);
  EXPECT_TRUE(t.failed());
  EXPECT_EQ(t.committable(p), Offset(1));  // never past offset 1
}

TEST(OffsetTracker, PartitionsAreIndependentAndDroppable) {
  OffsetTracker t;
  const uint64_t a = t.register_frame(Partition(0), Offset(5), 1);
  const uint64_t b = t.register_frame(Partition(1), Offset(7), 1);
  t.ack(b, true);
  EXPECT_EQ(t.take_committable(Partition(1)), Offset(8));
  EXPECT_FALSE(t.take_committable(Partition(0)));
  t.drop_partition(Partition(0));
  t.ack(a, true);  // late ack for a dropped partition is ignored
  EXPECT_EQ(t.pending(), 0u);
}

}  // namespace
}  // namespace assay::engine
