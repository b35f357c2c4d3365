// A fuzz target that crashes on purpose, to check fuzz/replay_main.cpp itself (ctest
// fuzz_replay_selftest, fuzz/selftest/check.sh): blind mutation of its seed ("FUZZab", 6 bytes)
// must find a 7-byte input that starts with "FUZZ", the process must die of it, and the input
// must be on disk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 7 && std::memcmp(data, "FUZZ", 4) == 0) std::abort();
  return 0;
}
