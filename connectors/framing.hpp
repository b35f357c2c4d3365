#pragma once
/// \file Compatibility header: the framed-file reader and writer live in engine/framing.hpp
/// (one implementation for connectors, the audit log and the tools). New code includes that
/// header and uses assay::engine directly.

#include "engine/framing.hpp"

namespace assay::connectors {

using engine::append_frame;     ///< see engine/framing.hpp
using engine::FrameReader;      ///< see engine/framing.hpp
using engine::FrameStatus;      ///< see engine/framing.hpp
using engine::FrameWriter;      ///< see engine/framing.hpp
using engine::read_frame_file;  ///< see engine/framing.hpp

}  // namespace assay::connectors
