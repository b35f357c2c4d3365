#include "sim/frame_sink.hpp"

namespace assay::sim {

bool FileFrameSink::write(std::span<const uint8_t> frame, std::string_view /*key*/) {
  return writer_.write(frame);
}

}  // namespace assay::sim
