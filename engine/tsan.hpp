#pragma once
// Happens-before annotations for ThreadSanitizer (scripts/tsan.sh, docs/testing.md).
//
// TBB (Debian's, not instrumented) hands tasks, pipeline tokens and their data between threads
// through atomics inside libtbb that ThreadSanitizer cannot see, so what one stage or task wrote
// looks unordered with what the next one reads. These calls state those orderings where Assay
// hands its own data over TBB: `release(p)` after the last write of a hand-over, `acquire(p)`
// before the first read on the receiving side. They compile to nothing unless the translation
// unit is built with -fsanitize=thread.
#include <tbb/parallel_for.h>

#include <cstddef>

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace assay::engine::tsan {

/// Orders what the threads that called `release(p)` wrote before it before what follows.
inline void acquire([[maybe_unused]] const void* p) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(p));
#endif
}

/// Publishes this thread's writes so far to the next `acquire(p)`, on any thread.
inline void release([[maybe_unused]] const void* p) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(p));
#endif
}

/// The hand-over point that a task can name before it reads anything: a task's first reads
/// are of its own closure (where any other sync address would be), which the thread that
/// handed it to TBB wrote. That thread calls `publish()` after building the closures and
/// before handing them over; each task calls `receive()` first. (Every hand-over shares this
/// one address, so ThreadSanitizer sees somewhat more ordering than there is; the per-object
/// `acquire`/`release` pairs carry the rest.)
inline char handover_point = 0;

/// See `handover_point`: after building what tasks will read, before handing it to TBB.
inline void publish() {
  release(&handover_point);
}

/// See `handover_point`: the first call of a task body.
inline void receive() {
  acquire(&handover_point);
}

/// tbb::parallel_for over [0, n) with its fork and join made visible to ThreadSanitizer: each
/// call of `body(i)` sees what the caller wrote before, and the caller sees, after the return,
/// what every call wrote.
template <class Body>
void parallel_for(size_t n, const Body& body) {
  [[maybe_unused]] char join = 0;
  const auto each = [&](size_t i) {
    receive();
    body(i);
    release(&join);
  };
  publish();  // after `each` is built: the tasks read it
  tbb::parallel_for(size_t{0}, n, each);
  acquire(&join);
}

/// parallel_for over [0, n) in chunks of `grain` indices: `body(begin, end)` for each chunk, with
/// the same guarantees as above. (TBB's range form copies the body into its tasks after the
/// fork, a write ThreadSanitizer would then see unordered with the tasks' reads.)
template <class Body>
void parallel_for_chunks(size_t n, size_t grain, const Body& body) {
  if (grain == 0) grain = 1;
  parallel_for((n + grain - 1) / grain, [&](size_t c) {
    const size_t begin = c * grain;
    body(begin, begin + grain < n ? begin + grain : n);
  });
}

}  // namespace assay::engine::tsan
