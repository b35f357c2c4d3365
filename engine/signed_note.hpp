#pragma once
/// \file C2SP signed notes (c2sp.org/signed-note), transparency-log checkpoints
/// (c2sp.org/tlog-checkpoint) and Ed25519 cosignatures (c2sp.org/tlog-cosignature v1), as
/// provenance v2 uses them: the engine signs one checkpoint per chain (its log) with its
/// Ed25519 key (signature type 0x01, key name = the log's origin); witnesses add
/// timestamped cosignatures (type 0x04). Parsing is strict and bounded; nothing here does I/O.

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace assay::engine {

/// Signature types of c2sp.org/signed-note used here.
inline constexpr uint8_t kNoteEd25519 = 0x01;      ///< Ed25519 over the note text
inline constexpr uint8_t kNoteCosignature = 0x04;  ///< timestamped Ed25519 cosignature v1

/// A verifier key (vkey): name, key ID, signature type and Ed25519 public key.
struct NoteKey {
  std::string name;
  uint32_t id = 0;
  uint8_t type = kNoteEd25519;
  std::array<uint8_t, 32> public_key{};
};

/// The key ID: the first 4 bytes, big-endian, of SHA-256(name || 0x0A || type || public key).
uint32_t note_key_id(std::string_view name, uint8_t type, std::span<const uint8_t, 32> public_key);
/// The vkey text "NAME+hex(ID)+base64(type || public key)".
std::string format_vkey(const NoteKey& key);
/// Parses a vkey (Ed25519 types 0x01 and 0x04 only); checks that the ID matches the key.
/// False with a reason.
bool parse_vkey(std::string_view text, NoteKey* out, std::string* error);
/// True if `name` is a valid key name (non-empty, printable ASCII or UTF-8, no spaces, no '+').
bool valid_note_key_name(std::string_view name);

/// One signature line of a note.
struct NoteSignature {
  std::string name;            ///< key name
  uint32_t id = 0;             ///< key ID (first 4 bytes of the decoded signature)
  std::vector<uint8_t> bytes;  ///< the decoded signature after the key ID
  std::string line;            ///< the whole line, newline included
};

/// Splits a signed note into its text (ending in a newline) and its signature lines. Strict:
/// valid UTF-8, no control characters but newline, at most 64 signatures, every signature
/// line well-formed. False with a reason.
bool split_note(std::string_view note, std::string* text, std::vector<NoteSignature>* sigs,
                std::string* error);

/// A signer of note text: returns the 64-byte Ed25519 signature of its argument.
using NoteSigner = std::function<std::array<uint8_t, 64>(std::span<const uint8_t>)>;

/// "— NAME base64(ID || signature)\n" for an Ed25519 (type 0x01) signature of `text`.
std::string note_signature_line(std::string_view name, std::span<const uint8_t, 32> public_key,
                                const NoteSigner& sign, std::string_view text);
/// True if `sig` is by `key` (name and ID match) and verifies over `text`: Ed25519 over the
/// text for type 0x01; for type 0x04, a cosignature v1 (8-byte big-endian timestamp, then
/// Ed25519 over "cosignature/v1\ntime T\n" || text). `timestamp` receives T for type 0x04.
bool verify_note_signature(const NoteKey& key, std::string_view text, const NoteSignature& sig,
                           uint64_t* timestamp = nullptr);

/// A tlog checkpoint: origin, tree size, root hash.
struct CheckpointBody {
  std::string origin;
  uint64_t size = 0;
  std::array<uint8_t, 32> root{};
  std::vector<std::string> extensions;  ///< extension lines (none written by Assay)
};

/// The checkpoint note text "ORIGIN\nSIZE\nbase64(ROOT)\n".
std::string format_checkpoint_body(const CheckpointBody& c);
/// Parses checkpoint note text (c2sp.org/tlog-checkpoint). False with a reason.
bool parse_checkpoint_body(std::string_view text, CheckpointBody* out, std::string* error);

}  // namespace assay::engine
