// The one framed-file implementation (engine/framing.hpp): readers never allocate what a length
// prefix claims beyond the bytes present; writers hand over whole frames only, and cut a failed
// write back; torn tails are found and set aside.
#include "engine/framing.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace assay::engine {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("assay-framing-" + std::to_string(getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Framing, ALyingLengthPrefixCostsOnlyTheBytesPresent) {
  // 13.2: 8 bytes whose prefix claims ~4 GiB.
  TempDir d;
  const fs::path f = d.path / "lie.asy";
  std::ofstream(f, std::ios::binary) << std::string("\xf0\xff\xff\xff", 4) << "abcd";
  FrameReader r(UINT32_MAX);
  ASSERT_TRUE(r.open(f.string()));
  std::vector<uint8_t> arena;
  uint32_t len = 0;
  uint64_t declared = 0;
  EXPECT_EQ(r.next(arena, len, declared), FrameStatus::kTruncated);
  EXPECT_EQ(declared, 0xfffffff0u);
  EXPECT_EQ(len, 4u);
  EXPECT_LT(arena.capacity(), size_t{1} << 20);
  // The same through a pipe (no file size to check against): grown only as bytes arrive.
  const fs::path fifo = d.path / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::ofstream(fifo, std::ios::binary) << std::string("\xf0\xff\xff\xff", 4) << "abcd";
  });
  FrameReader p(UINT32_MAX);
  ASSERT_TRUE(p.open(fifo.string()));
  arena.clear();
  arena.shrink_to_fit();
  EXPECT_EQ(p.next(arena, len, declared), FrameStatus::kTruncated);
  writer.join();
  EXPECT_EQ(len, 4u);
  EXPECT_LE(arena.capacity(), (size_t{1} << 20) + 16);
}

TEST(Framing, OversizedFramesAreSkippedAndPositionsReported) {
  TempDir d;
  const fs::path f = d.path / "x.asy";
  {
    FrameWriter w;
    ASSERT_TRUE(w.open(f.string()));
    ASSERT_TRUE(w.write(std::vector<uint8_t>(10, 1)));
    ASSERT_TRUE(w.write(std::vector<uint8_t>(5000, 2)));
    ASSERT_TRUE(w.write(std::vector<uint8_t>(3, 3)));
    ASSERT_TRUE(w.close());
  }
  FrameReader r(100);
  ASSERT_TRUE(r.open(f.string()));
  std::vector<uint8_t> a;
  uint32_t len = 0;
  uint64_t declared = 0;
  EXPECT_EQ(r.next(a, len, declared), FrameStatus::kOk);
  EXPECT_EQ(r.frame_position(), 0u);
  a.clear();
  EXPECT_EQ(r.next(a, len, declared), FrameStatus::kTooLarge);
  EXPECT_EQ(len, 100u);
  EXPECT_EQ(r.frame_position(), 14u);
  a.clear();
  EXPECT_EQ(r.next(a, len, declared), FrameStatus::kOk);
  EXPECT_EQ(a, std::vector<uint8_t>(3, 3));
  EXPECT_EQ(r.frame_position(), 14u + 5004u);
  EXPECT_EQ(r.next(a, len, declared), FrameStatus::kEnd);
  const FrameScan s = scan_frame_file(f.string(), 2);
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.frames, 3u);
  EXPECT_FALSE(s.torn());
  EXPECT_EQ(s.last_starts, (std::vector<uint64_t>{14, 5018}));
}

TEST(Framing, AFailedWriteLeavesNoPartialFrame) {
  // 13.12: a write that fails part-way (here: the file size limit, as a full disk would) is cut
  // back, so the file ends on a frame boundary. In a child: the limit is process-wide.
  TempDir d;
  const fs::path f = d.path / "w.asy";
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl {
      3000, 3000
    };
    setrlimit(RLIMIT_FSIZE, &rl);
    FrameWriter w(1024);
    if (!w.open(f.string())) _exit(3);
    bool failed = false;
    for (int i = 0; i < 40 && !failed; ++i) failed = !w.write(std::vector<uint8_t>(300, 7));
    _exit(failed ? 0 : 4);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const FrameScan s = scan_frame_file(f.string());
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_FALSE(s.torn()) << s.good_end << " of " << s.file_size;
  EXPECT_GT(s.frames, 0u);
}

TEST(Framing, WriterHandsOverWholeUnitsOnly) {
  TempDir d;
  const fs::path f = d.path / "u.asy";
  FrameWriter w(1000);
  ASSERT_TRUE(w.open(f.string()));
  ASSERT_TRUE(w.write(std::vector<uint8_t>(400, 1)));
  EXPECT_EQ(w.units_handed(), 0u);
  EXPECT_EQ(fs::file_size(f), 0u);                     // buffered
  ASSERT_TRUE(w.write(std::vector<uint8_t>(700, 2)));  // over the buffer: both go out, whole
  EXPECT_EQ(w.units_handed(), 2u);
  EXPECT_EQ(fs::file_size(f), 1108u);
  ASSERT_TRUE(w.write(std::vector<uint8_t>(5, 3)));
  ASSERT_TRUE(w.drain());
  EXPECT_EQ(w.units_handed(), 3u);
  ASSERT_TRUE(w.close());
  EXPECT_EQ(read_frame_file(f.string()).size(), 3u);
}

TEST(Framing, ATornTailIsFoundAndMovedAside) {
  TempDir d;
  const fs::path f = d.path / "t.asy";
  {
    FrameWriter w;
    ASSERT_TRUE(w.open(f.string()));
    ASSERT_TRUE(w.write(std::vector<uint8_t>(10, 1)));
    ASSERT_TRUE(w.write_raw(std::vector<uint8_t>{0x20, 0, 0, 0, 9, 9}));  // claims 32, holds 2
    ASSERT_TRUE(w.close());
  }
  const FrameScan s = scan_frame_file(f.string());
  ASSERT_TRUE(s.torn());
  EXPECT_EQ(s.good_end, 14u);
  EXPECT_EQ(s.torn_declared, 32u);
  MovedTail m;
  std::string err;
  ASSERT_TRUE(move_file_tail(f.string(), s.good_end, "torn", &m, &err)) << err;
  EXPECT_EQ(m.bytes, 6u);
  EXPECT_EQ(fs::file_size(f), 14u);
  EXPECT_EQ(fs::file_size(m.moved_to), 6u);
  EXPECT_FALSE(scan_frame_file(f.string()).torn());
}

}  // namespace
}  // namespace assay::engine
