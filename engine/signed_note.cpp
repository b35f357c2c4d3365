#include "engine/signed_note.hpp"

#include <charconv>

#include "crypto/sha256.hpp"
#include "engine/bytes.hpp"
#include "engine/signing_key.hpp"

namespace assay::engine {
namespace {

constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014 then a space
constexpr size_t kMaxSignatures = 64;

// Structural UTF-8 check (no overlongs, no surrogates, at most U+10FFFF), and no ASCII control
// characters other than newline.
bool note_chars_ok(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\n') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

bool parse_u64_decimal(std::string_view s, uint64_t* out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

}  // namespace

bool valid_note_key_name(std::string_view name) {
  if (name.empty() || !note_chars_ok(name)) return false;
  for (char c : name)
    if (c == ' ' || c == '+' || c == '\n' || c == '\t') return false;
  // Unicode spaces that UTF-8 can carry: U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
  // U+202F, U+205F, U+3000.
  for (std::string_view sp : {"\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8", "\xE2\x80\xA9",
                              "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"})
    if (name.find(sp) != std::string_view::npos) return false;
  for (size_t i = 0; i + 2 < name.size(); ++i)
    if (name[i] == '\xE2' && name[i + 1] == '\x80' &&
        static_cast<unsigned char>(name[i + 2]) >= 0x80 &&
        static_cast<unsigned char>(name[i + 2]) <= 0x8A)
      return false;
  return true;
}

uint32_t note_key_id(std::string_view name, uint8_t type, std::span<const uint8_t, 32> public_key) {
  crypto::Sha256 h;
  h.update(name);
  const uint8_t sep[2] = {'\n', type};
  h.update(sep);
  h.update(public_key);
  const auto d = h.final();
  return be32(d.data());
}

std::string format_vkey(const NoteKey& key) {
  std::vector<uint8_t> material{key.type};
  material.insert(material.end(), key.public_key.begin(), key.public_key.end());
  const uint8_t id[4] = {static_cast<uint8_t>(key.id >> 24), static_cast<uint8_t>(key.id >> 16),
                         static_cast<uint8_t>(key.id >> 8), static_cast<uint8_t>(key.id)};
  return key.name + "+" + to_hex(id) + "+" + to_base64(material);
}

bool parse_vkey(std::string_view text, NoteKey* out, std::string* error) {
  // NAME+ID+KEY: the name and the ID hold no '+'; the base64 key may.
  const size_t p1 = text.find('+');
  const size_t p2 = p1 == std::string_view::npos ? p1 : text.find('+', p1 + 1);
  if (p2 == std::string_view::npos) {
    *error = "not a verifier key (NAME+ID+KEY)";
    return false;
  }
  const std::string_view name = text.substr(0, p1), hex = text.substr(p1 + 1, p2 - p1 - 1);
  if (!valid_note_key_name(name)) {
    *error = "verifier key: invalid key name";
    return false;
  }
  const auto id = from_hex(hex);
  const auto material = from_base64(text.substr(p2 + 1));
  if (hex.size() != 8 || !id || !material) {
    *error = "verifier key: key ID must be 8 hex digits and the key base64";
    return false;
  }
  if (material->size() != 33 ||
      ((*material)[0] != kNoteEd25519 && (*material)[0] != kNoteCosignature)) {
    *error = "verifier key: only Ed25519 keys (type 0x01 or 0x04 cosigner) are supported";
    return false;
  }
  NoteKey k;
  k.name = std::string(name);
  k.type = (*material)[0];
  std::copy(material->begin() + 1, material->end(), k.public_key.begin());
  k.id = be32(id->data());
  if (note_key_id(k.name, k.type, k.public_key) != k.id) {
    *error = "verifier key: the key ID does not match the name and key";
    return false;
  }
  *out = std::move(k);
  return true;
}

bool split_note(std::string_view note, std::string* text, std::vector<NoteSignature>* sigs,
                std::string* error) {
  sigs->clear();
  if (note.size() > (size_t{1} << 20)) {
    *error = "note larger than 1 MiB";
    return false;
  }
  if (!note_chars_ok(note)) {
    *error = "note is not valid UTF-8 or holds control characters";
    return false;
  }
  if (note.empty() || note.back() != '\n') {
    *error = "note does not end in a newline";
    return false;
  }
  // The text ends at the last blank line; everything after it is signature lines.
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    *error = "note has no blank line before its signatures";
    return false;
  }
  *text = std::string(note.substr(0, split + 1));
  std::string_view rest = note.substr(split + 2);
  if (rest.empty()) {
    *error = "note has no signatures";
    return false;
  }
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (sigs->size() == kMaxSignatures) {
      *error = "note has more than " + std::to_string(kMaxSignatures) + " signatures";
      return false;
    }
    if (line.substr(0, kEmDashSpace.size()) != kEmDashSpace) {
      *error = "malformed signature line (must start with an em dash and a space)";
      return false;
    }
    const std::string_view body = line.substr(kEmDashSpace.size());
    const size_t sp = body.find(' ');
    if (sp == std::string_view::npos || body.find(' ', sp + 1) != std::string_view::npos) {
      *error = "malformed signature line (NAME SIGNATURE)";
      return false;
    }
    NoteSignature s;
    s.name = std::string(body.substr(0, sp));
    const auto raw = from_base64(body.substr(sp + 1));
    if (!valid_note_key_name(s.name) || !raw || raw->size() < 5) {
      *error = "malformed signature line (key name or base64 signature)";
      return false;
    }
    s.id = be32(raw->data());
    s.bytes.assign(raw->begin() + 4, raw->end());
    s.line = std::string(line) + "\n";
    sigs->push_back(std::move(s));
  }
  return true;
}

std::string note_signature_line(std::string_view name, std::span<const uint8_t, 32> public_key,
                                const NoteSigner& sign, std::string_view text) {
  const uint32_t id = note_key_id(name, kNoteEd25519, public_key);
  const auto sig =
      sign(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  std::vector<uint8_t> raw = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                              static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  raw.insert(raw.end(), sig.begin(), sig.end());
  return std::string(kEmDashSpace) + std::string(name) + " " + to_base64(raw) + "\n";
}

bool verify_note_signature(const NoteKey& key, std::string_view text, const NoteSignature& sig,
                           uint64_t* timestamp) {
  if (sig.name != key.name || sig.id != key.id) return false;
  if (key.type == kNoteEd25519) {
    if (sig.bytes.size() != 64) return false;
    return verify_engine_signature(
        key.public_key,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
        sig.bytes);
  }
  if (key.type != kNoteCosignature || sig.bytes.size() != 72) return false;
  uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = (t << 8) | sig.bytes[static_cast<size_t>(i)];
  if (t > static_cast<uint64_t>(INT64_MAX)) return false;
  const std::string msg = "cosignature/v1\ntime " + std::to_string(t) + "\n" + std::string(text);
  const bool ok = verify_engine_signature(
      key.public_key,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()),
      std::span<const uint8_t>(sig.bytes).subspan(8));
  if (ok && timestamp != nullptr) *timestamp = t;
  return ok;
}

std::string format_checkpoint_body(const CheckpointBody& c) {
  std::string s = c.origin + "\n" + std::to_string(c.size) + "\n" + to_base64(c.root) + "\n";
  for (const auto& e : c.extensions) s += e + "\n";
  return s;
}

bool parse_checkpoint_body(std::string_view text, CheckpointBody* out, std::string* error) {
  if (text.empty() || text.back() != '\n') {
    *error = "checkpoint text does not end in a newline";
    return false;
  }
  std::vector<std::string_view> lines;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) {
    *error = "checkpoint has fewer than three lines";
    return false;
  }
  for (const auto& l : lines)
    if (l.empty()) {
      *error = "checkpoint has an empty line";
      return false;
    }
  CheckpointBody c;
  c.origin = std::string(lines[0]);
  if (!parse_u64_decimal(lines[1], &c.size)) {
    *error = "checkpoint tree size is not a decimal number without leading zeroes";
    return false;
  }
  const auto root = from_base64(lines[2]);
  if (!root || root->size() != 32) {
    *error = "checkpoint root hash is not 32 bytes of base64";
    return false;
  }
  std::copy(root->begin(), root->end(), c.root.begin());
  for (size_t i = 3; i < lines.size(); ++i) c.extensions.emplace_back(lines[i]);
  *out = std::move(c);
  return true;
}

}  // namespace assay::engine
