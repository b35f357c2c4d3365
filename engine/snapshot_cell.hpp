#pragma once
// A shared, immutable snapshot that one writer replaces while readers take copies.
#include <memory>
#include <mutex>
#include <utility>

namespace assay::engine {

/// Holds a `std::shared_ptr<const T>` that readers copy (`load`) and a writer replaces
/// (`store`). Used instead of `std::atomic<std::shared_ptr<>>`, whose libstdc++ 12
/// implementation releases its internal lock with relaxed ordering after a load: a race on its
/// pointer under the C++ memory model that ThreadSanitizer reports (scripts/tsan.sh). The lock
/// is held only to copy or swap the pointer; the old snapshot is released outside it.
template <class T>
class SnapshotCell {
 public:
  SnapshotCell() = default;
  /// A cell that holds `initial`.
  explicit SnapshotCell(std::shared_ptr<const T> initial) : current_(std::move(initial)) {}
  SnapshotCell(const SnapshotCell&) = delete;
  SnapshotCell& operator=(const SnapshotCell&) = delete;

  /// The current snapshot (may be null before the first store).
  std::shared_ptr<const T> load() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

  /// Replaces the snapshot; readers that hold the old one keep it alive until they drop it.
  void store(std::shared_ptr<const T> next) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_.swap(next);
    }
    // `next` (the old snapshot) is released here, outside the lock.
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> current_;
};

}  // namespace assay::engine
