// Joins TBB's worker threads when a test binary's tests end, before the process exits.
//
// Without the join, workers run their thread-exit handlers (OpenSSL's per-thread DRBG and error
// state) concurrently with the process's exit handlers, LeakSanitizer's check among them: a race
// that reports those per-thread objects as leaked. cli/main.cpp does the same for `assay`.
#include <gtest/gtest.h>

#include <new>

#include <oneapi/tbb/global_control.h>

namespace {

class TbbJoin : public ::testing::Environment {
 public:
  void SetUp() override { handle_ = oneapi::tbb::task_scheduler_handle{oneapi::tbb::attach{}}; }
  void TearDown() override { (void)oneapi::tbb::finalize(handle_, std::nothrow); }

 private:
  oneapi::tbb::task_scheduler_handle handle_;
};

[[maybe_unused]] ::testing::Environment* const kTbbJoin =
    ::testing::AddGlobalTestEnvironment(new TbbJoin);

}  // namespace
