#pragma once
/// \file The decode stage: every input frame passes a strict parser before any field is read
/// and is expanded into rows (one per reading, or a single rejected row for a frame that cannot
/// be decoded), with its signature envelope (what was signed, by which key id, with which
/// algorithm, the signature) decoded once into the Frame. Assay's own FlatBuffers records are
/// built in; other formats (`format:` on a source) plug in as an InputFormat.

#include <functional>
#include <memory>
#include <string_view>

#include "engine/batch.hpp"
#include "engine/config.hpp"

namespace assay::engine {

struct BuildContext;

/// Stage index of decode in Batch::row_reject_stage.
inline constexpr uint8_t kDecodeStage = 0;

/// A record format a source speaks (`format:` on an input). Decodes one frame strictly.
class InputFormat {
 public:
  virtual ~InputFormat() = default;
  /// The format's name (`ocmf`, `senml-cose`, ...).
  virtual std::string_view name() const = 0;
  /// Decodes frame `f` of `batch` (not pre-rejected): sets its kind and envelope and appends
  /// its rows (Batch::add_row, readings built into Batch::built), or appends one rejected row
  /// with the reason. Never throws; never reads past the frame.
  virtual void decode(Batch& batch, uint32_t f) const = 0;
};

/// Builds an input format from the input's config node (its `format:` and the format's own keys).
using InputFormatFactory =
    std::function<std::unique_ptr<InputFormat>(const ConfigNode& input, BuildContext& ctx)>;

/// Detects the record kind from the 4-byte file identifier (no other bytes are read).
RecordKind detect_kind(std::span<const uint8_t> bytes);

/// Verifies and decodes every frame of `batch` into rows, with Assay's own records unless
/// `format` is given. Frames already marked by the source (pre_reject) become rejected rows.
/// Returns the number of rows created.
size_t decode_batch(Batch& batch, const InputFormat* format = nullptr);

}  // namespace assay::engine
