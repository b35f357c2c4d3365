// Corpus replay and bounded mutation fuzzing for the gcc builds (release and ASan+UBSan;
// docs/testing.md): a fuzz target's entry point (LLVMFuzzerTestOneInput) linked with this main
// instead of libFuzzer.
//
// It feeds every file named on the command line, or found (sorted, not recursively) in a
// directory named there, to the entry point once: the seed corpus and the regression inputs of
// the crashes fuzzing found. With --mutate-seconds S it then fuzzes for S seconds: inputs made
// from the corpus by random mutations (bit flips, interesting bytes and integers, inserted,
// erased, duplicated and truncated ranges, splices of two inputs), drawn from a seeded generator
// (--seed N, default 1; the same seed gives the same sequence of inputs). This is blind mutation,
// without libFuzzer's coverage feedback: it is what fits the test command's time budget; the
// coverage-guided runs are scripts/fuzz.sh on the clang flavour. A crash or a violated property
// aborts the process, which fails its ctest test; the input that crashed is first written to
// fuzz-crash-<pid>.bin in the working directory the process started in.
//   fuzz_replay_<name> [--mutate-seconds S] [--seed N] DIR_OR_FILE...
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
/// Defined by the targets that set up shared state once (weak: absent in the others).
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

// The input being fed while mutating, for the crash handler (async-signal-safe writes only).
const uint8_t* g_current = nullptr;
size_t g_current_size = 0;
char g_crash_path[4200] = {};
// The handlers this one replaced (the sanitizers' among them), restored before re-raising so
// that their report still comes.
struct sigaction g_previous[NSIG];

void on_fatal_signal(int sig) {
  if (g_current != nullptr && g_crash_path[0] != '\0') {
    const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      size_t off = 0;
      while (off < g_current_size) {
        const ssize_t w = ::write(fd, g_current + off, g_current_size - off);
        if (w <= 0) break;
        off += static_cast<size_t>(w);
      }
      ::close(fd);
      static const char kMsg[] = "replay: the crashing mutated input was written to ";
      (void)!::write(2, kMsg, sizeof kMsg - 1);
      (void)!::write(2, g_crash_path, std::strlen(g_crash_path));
      (void)!::write(2, "\n", 1);
    }
  }
  // Back to the previous handler; the signal, blocked while this handler runs, reaches it on
  // return (and a fault re-executes, reaching it too).
  sigaction(sig, &g_previous[sig], nullptr);
  std::raise(sig);
}

void feed(const std::vector<uint8_t>& bytes) {
  // An empty vector's data() may be null; libFuzzer never passes null either.
  static const uint8_t kEmpty = 0;
  LLVMFuzzerTestOneInput(bytes.empty() ? &kEmpty : bytes.data(), bytes.size());
}

/// One random mutation of `in` (1 to 4 edits), using `other` for splices. Sizes stay below
/// kMaxLen.
class Mutator {
 public:
  static constexpr size_t kMaxLen = 1 << 20;
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  void mutate(std::vector<uint8_t>& in, const std::vector<uint8_t>& other) {
    const int edits = 1 + static_cast<int>(below(4));
    for (int e = 0; e < edits; ++e) edit(in, other);
  }

  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }

 private:
  void edit(std::vector<uint8_t>& in, const std::vector<uint8_t>& other) {
    static constexpr uint8_t kBytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x2c, 0x3a,
                                         0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x0a, 0x26, 0x9f,
                                         0xa0, 0xbf, 0xd8, 0xf6, 0xfa, 0xfb};
    static constexpr uint32_t kInts[] = {0u,          1u,          0x7fu,       0x80u,
                                         0xffu,       0x100u,      0x7fffu,     0xffffu,
                                         0x10000u,    0x7fffffffu, 0x80000000u, 0xffffffffu,
                                         0xfffffffeu, 1000000u};
    switch (below(in.empty() ? 2 : 9)) {
      case 0: {  // insert random bytes
        const size_t n = 1 + below(16);
        if (in.size() + n > kMaxLen) return;
        const size_t at = below(in.size() + 1);
        std::vector<uint8_t> add(n);
        for (auto& b : add) b = static_cast<uint8_t>(rng_());
        in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), add.begin(), add.end());
        return;
      }
      case 1: {  // splice: a range of the other input, inserted
        if (other.empty()) return;
        const size_t from = below(other.size());
        const size_t n = 1 + below(std::min<size_t>(other.size() - from, 256));
        if (in.size() + n > kMaxLen) return;
        const size_t at = below(in.size() + 1);
        in.insert(in.begin() + static_cast<std::ptrdiff_t>(at),
                  other.begin() + static_cast<std::ptrdiff_t>(from),
                  other.begin() + static_cast<std::ptrdiff_t>(from + n));
        return;
      }
      case 2:  // flip a bit
        in[below(in.size())] ^= static_cast<uint8_t>(1u << below(8));
        return;
      case 3:  // an interesting byte
        in[below(in.size())] = kBytes[below(sizeof kBytes)];
        return;
      case 4:  // a random byte
        in[below(in.size())] = static_cast<uint8_t>(rng_());
        return;
      case 5: {  // an interesting integer, either byte order
        uint32_t v = kInts[below(std::size(kInts))];
        if (below(2) != 0) v = __builtin_bswap32(v);
        const size_t width = std::size_t{1} << below(3);  // 1, 2 or 4 bytes
        if (in.size() < width) return;
        std::memcpy(in.data() + below(in.size() - width + 1), &v, width);
        return;
      }
      case 6: {  // erase a range
        const size_t at = below(in.size());
        const size_t n = 1 + below(std::min<size_t>(in.size() - at, 64));
        in.erase(in.begin() + static_cast<std::ptrdiff_t>(at),
                 in.begin() + static_cast<std::ptrdiff_t>(at + n));
        return;
      }
      case 7: {  // duplicate a range
        const size_t at = below(in.size());
        const size_t n = 1 + below(std::min<size_t>(in.size() - at, 64));
        if (in.size() + n > kMaxLen) return;
        const std::vector<uint8_t> copy(in.begin() + static_cast<std::ptrdiff_t>(at),
                                        in.begin() + static_cast<std::ptrdiff_t>(at + n));
        in.insert(in.begin() + static_cast<std::ptrdiff_t>(below(in.size() + 1)), copy.begin(),
                  copy.end());
        return;
      }
      default:  // truncate
        in.resize(below(in.size()));
        return;
    }
  }

  std::mt19937_64 rng_;
};

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  double mutate_seconds = 0;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--mutate-seconds" || a == "--seed") && i + 1 < argc) {
      char* end = nullptr;
      const char* v = argv[++i];
      if (a == "--seed") {
        seed = std::strtoull(v, &end, 10);
      } else {
        mutate_seconds = std::strtod(v, &end);
      }
      if (end == v || *end != '\0' || mutate_seconds < 0) {
        std::fprintf(stderr, "replay: bad value for %s: %s\n", a.c_str(), v);
        return 2;
      }
      continue;
    }
    const fs::path p = fs::absolute(a);  // a target may change its working directory
    if (fs::is_directory(p)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs\n");
    return 2;
  }
  std::snprintf(g_crash_path, sizeof g_crash_path, "%s/fuzz-crash-%d.bin",
                fs::current_path().c_str(), static_cast<int>(::getpid()));
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::vector<uint8_t>> corpus;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      return 2;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", f.c_str(), bytes.size());
    feed(bytes);
    corpus.push_back(std::move(bytes));
  }
  std::printf("replayed %zu inputs\n", files.size());
  if (mutate_seconds <= 0) return 0;

  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, &g_previous[sig]);
  }
  Mutator m(seed);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(mutate_seconds);
  std::vector<uint8_t> input;
  uint64_t executions = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    // 64 inputs per clock read: the clock is not free next to a fast target.
    for (int k = 0; k < 64; ++k) {
      input = corpus[m.below(corpus.size())];
      m.mutate(input, corpus[m.below(corpus.size())]);
      g_current = input.data();
      g_current_size = input.size();
      feed(input);
      ++executions;
    }
  }
  g_current = nullptr;
  std::printf("mutated %llu inputs in %.0f s (seed %llu), no crash\n",
              static_cast<unsigned long long>(executions), mutate_seconds,
              static_cast<unsigned long long>(seed));
  return 0;
}
