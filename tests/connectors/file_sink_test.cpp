// The file sink acknowledges a record only once it reached the operating system, and as failed
// when that write fails (13, "on a failed write the summary still counts records"); the
// attestations route writes through; records can be set aside (provenance quarantine).
#include "connectors/file_sink.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "engine/framing.hpp"

namespace assay::connectors {
namespace {

namespace fs = std::filesystem;

struct Acks {
  std::map<uint64_t, bool> got;
  engine::Sink::AckFn fn() {
    return [this](uint64_t t, bool ok) { got[t] = ok; };
  }
};

TEST(FileSink, AcknowledgesOnlyWhatWasWritten) {
  FileSink sink("/dev/full", FileFormat::kFramed, false);
  Acks acks;
  sink.set_ack(acks.fn());
  std::string err;
  ASSERT_TRUE(sink.start(&err)) << err;
  const std::vector<uint8_t> rec(100, 7);
  EXPECT_TRUE(sink.write(rec, {}, 1));
  EXPECT_TRUE(sink.write(rec, {}, 2));
  EXPECT_TRUE(acks.got.empty());  // buffered: not written yet, not acknowledged
  sink.poll();                    // the write fails (no space left on the device)
  ASSERT_EQ(acks.got.size(), 2u);
  EXPECT_FALSE(acks.got[1]);
  EXPECT_FALSE(acks.got[2]);
}

TEST(FileSink, AcknowledgesAfterTheHandOverAndWritesAttestationsThrough) {
  const fs::path d = fs::temp_directory_path() / ("assay-fs-" + std::to_string(getpid()) + "-" +
                                                  std::to_string(std::random_device{}()));
  fs::create_directories(d);
  {
    FileSink sink((d / "t.asy").string(), FileFormat::kFramed, false);
    Acks acks;
    sink.set_ack(acks.fn());
    std::string err;
    ASSERT_TRUE(sink.start(&err)) << err;
    ASSERT_TRUE(sink.write(std::vector<uint8_t>(50, 1), {}, 1));
    EXPECT_TRUE(acks.got.empty());
    sink.poll();
    ASSERT_EQ(acks.got.size(), 1u);
    EXPECT_TRUE(acks.got[1]);
    EXPECT_EQ(fs::file_size(d / "t.asy"), 54u);
    sink.stop();
  }
  {
    FileSink att((d / "a.asy").string(), FileFormat::kFramed, false, false, true);
    Acks acks;
    att.set_ack(acks.fn());
    std::string err;
    ASSERT_TRUE(att.start(&err)) << err;
    ASSERT_TRUE(att.write(std::vector<uint8_t>(20, 2), {}, 9));
    EXPECT_TRUE(acks.got[9]);                    // at once
    EXPECT_EQ(fs::file_size(d / "a.asy"), 24u);  // already in the file
    att.stop();
  }
  {
    // The last records set aside; appending goes on after what is left.
    FileSink sink((d / "t.asy").string(), FileFormat::kFramed, false, true);
    std::string err, where;
    ASSERT_TRUE(sink.start(&err)) << err;
    for (uint8_t i = 0; i < 5; ++i) ASSERT_TRUE(sink.write(std::vector<uint8_t>(10, i), {}, i));
    ASSERT_TRUE(sink.quarantine_tail(engine::Partition(0), 2, &where, &err)) << err;
    EXPECT_NE(where.find("t.asy.quarantine-"), std::string::npos) << where;
    ASSERT_TRUE(sink.write(std::vector<uint8_t>(10, 9), {}, 9));
    sink.stop();
    const auto recs = engine::read_frame_file((d / "t.asy").string());
    ASSERT_EQ(recs.size(), 5u);  // the first one, three kept, the new one
    EXPECT_EQ(recs[3], std::vector<uint8_t>(10, 2));
    EXPECT_EQ(recs[4], std::vector<uint8_t>(10, 9));
  }
  fs::remove_all(d);
}

}  // namespace
}  // namespace assay::connectors
