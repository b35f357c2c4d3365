#pragma once
/// \file A pull reader over CBOR (RFC 8949) built on libcbor's streaming decoder: one call to
/// next() decodes one data item head (and the bytes of a definite-length string) and returns
/// it as a CborItem whose strings are views into the input. Nothing is allocated and nothing
/// is built from declared lengths: a string whose declared length exceeds the input is
/// reported as truncated, and arrays/maps only report their count (the caller reads the
/// elements one by one, each consuming at least one input byte).
///
/// libcbor 0.8 (Debian 12) refuses the one-byte heads of tags 6..20 (0xC6..0xD4), among them
/// tag 17 (COSE_Mac0) and 18 (COSE_Sign1); the reader decodes those heads itself. Every other
/// head is decoded by libcbor.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace assay::formats {

/// Major kinds of a CBOR data item head.
enum class CborType : uint8_t {
  kUint,        ///< unsigned integer: value in `u`
  kNegint,      ///< negative integer -1 - u
  kBytes,       ///< definite-length byte string: `bytes`
  kText,        ///< definite-length text string: `bytes` (UTF-8 not yet checked)
  kArray,       ///< definite-length array of `u` items
  kMap,         ///< definite-length map of `u` pairs
  kTag,         ///< tag number `u`; the tagged item follows
  kFloat,       ///< half, single or double precision: `f`
  kBool,        ///< `b`
  kNull,        ///< null
  kUndefined,   ///< undefined
  kIndefinite,  ///< start of an indefinite-length string, array or map
  kBreak,       ///< the "break" stop code
};

/// One decoded head.
struct CborItem {
  CborType type = CborType::kNull;
  uint64_t u = 0;                  ///< integer magnitude, count, or tag number
  double f = 0;                    ///< float value
  bool b = false;                  ///< bool value
  std::span<const uint8_t> bytes;  ///< string contents (view into the input)
  /// Text contents as a string_view (same bytes as `bytes`).
  std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

/// Outcome of CborReader::next().
enum class CborStatus : uint8_t {
  kOk,         ///< an item was decoded
  kEnd,        ///< no bytes left
  kTruncated,  ///< the input ends inside the item (including declared lengths past the end)
  kMalformed,  ///< reserved or unassigned encodings (libcbor refuses them)
};

/// Sequential reader over one buffer.
class CborReader {
 public:
  /// Reads `input`; the reader keeps a view, not a copy.
  explicit CborReader(std::span<const uint8_t> input) : in_(input) {}

  /// Decodes the next head into `out`.
  CborStatus next(CborItem& out);
  /// Byte offset of the next head.
  size_t offset() const { return pos_; }
  /// True if every byte was consumed.
  bool at_end() const { return pos_ == in_.size(); }
  /// The input.
  std::span<const uint8_t> input() const { return in_; }

  /// Skips the rest of a value whose head `first` was just read (its elements, recursively).
  /// Refuses indefinite lengths (kMalformed with *indefinite = true) and nesting deeper than
  /// `max_depth` (kMalformed with *too_deep = true). Reads at most one head per input byte, so it
  /// always terminates.
  CborStatus skip(const CborItem& first, int max_depth, bool* indefinite, bool* too_deep);

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

/// True if `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace assay::formats
