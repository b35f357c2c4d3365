#pragma once
/// \file Strong types used across the engine: offsets, partitions, sensor ids.

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace assay::engine {

/// An integer wrapped in a distinct type so that offsets, partitions and indices
/// cannot be mixed up by accident.
template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  /// The raw value.
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

 private:
  Rep v_{};
};

struct OffsetTag {};
struct PartitionTag {};

/// Position of a record in its source partition (Kafka offset, or record index in a file).
using Offset = StrongInt<OffsetTag, int64_t>;
/// A source partition (Kafka partition number; 0 for a file).
using Partition = StrongInt<PartitionTag, int32_t>;

/// A sensor's identity as carried in Reading.sensor_id; a non-owning view.
class SensorId {
 public:
  constexpr SensorId() = default;
  constexpr explicit SensorId(std::string_view v) : v_(v) {}
  /// The identifier text.
  constexpr std::string_view view() const { return v_; }
  constexpr bool empty() const { return v_.empty(); }
  constexpr bool operator==(const SensorId&) const = default;

 private:
  std::string_view v_;
};

/// Where an input record came from.
struct SourcePosition {
  std::string_view topic;  ///< source topic or file path (owned by the source)
  Partition partition{0};
  Offset offset{0};
};

}  // namespace assay::engine

template <typename Tag, typename Rep>
struct std::hash<assay::engine::StrongInt<Tag, Rep>> {
  size_t operator()(const assay::engine::StrongInt<Tag, Rep>& v) const noexcept {
    return std::hash<Rep>{}(v.value());
  }
};
