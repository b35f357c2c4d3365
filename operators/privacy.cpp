#include "operators/privacy.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/bytes.hpp"
#include "schemas/reading_generated.h"

namespace assay::operators {

namespace {

void pseudonymise(const crypto::HmacSha256Key& key, std::string_view value,
                  std::array<char, 64>& out) {
  static const char* kDigits = "0123456789abcdef";
  uint8_t tag[32];
  crypto::hmac_sha256(key, reinterpret_cast<const uint8_t*>(value.data()), value.size(), tag);
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kDigits[tag[i] >> 4];
    out[2 * i + 1] = kDigits[tag[i] & 15];
  }
}

bool handled(const std::vector<engine::PrivacyEdit>& edits, size_t from, uint32_t attr) {
  for (size_t i = from; i < edits.size(); ++i)
    if (edits[i].attr == attr) return true;
  return false;
}

// The HMAC key of a pseudonymise rule: hex from a file (`key`) or the environment (`key_env`).
crypto::HmacSha256Key load_key(const engine::ConfigNode& rule) {
  std::string hex;
  const auto file = rule.maybe("key");
  const auto env = rule.maybe("key_env");
  if (file.has_value() == env.has_value())
    rule.fail("a pseudonymise rule needs exactly one of `key` (a file) or `key_env`");
  const engine::ConfigNode& where = file ? *file : *env;
  if (file) {
    hex = file->read_file();
  } else {
    const char* v = std::getenv(env->as_string().c_str());
    if (v == nullptr || *v == '\0') env->fail("environment variable is not set");
    hex = v;
  }
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' '))
    hex.pop_back();
  auto secret = engine::from_hex(hex);
  OPENSSL_cleanse(hex.data(), hex.size());
  if (!secret || secret->size() < 16)
    where.fail("the key must be hex of at least 16 bytes (assay keygen --alg hmac writes 32)");
  auto key = crypto::HmacSha256Key::from_secret(*secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  return key;
}

}  // namespace

void Privacy::process(engine::Batch& b, engine::OperatorState*, engine::OperatorContext&) const {
  // Every row with a reading is examined, not only the selected ones: the output of one
  // reading of a SignedBatch must not carry the batch's raw bytes when a sibling reading,
  // even a rejected one, holds a value a rule covers.
  const size_t before = b.privacy.size();
  size_t frame_start = before;  // first edit of the current frame
  auto finish_frame = [&] {
    if (frame_start == b.privacy.size()) return;
    const auto bytes = b.frame_bytes(b.privacy[frame_start].frame);
    const auto digest =
        engine::sha256(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    for (size_t i = frame_start; i < b.privacy.size(); ++i)
      std::copy(digest.begin(), digest.end(), b.privacy[i].frame_sha256.begin());
  };
  for (uint32_t r = 0; r < b.row_count(); ++r) {
    if (r > 0 && b.row_frame[r] != b.row_frame[r - 1]) {
      finish_frame();
      frame_start = b.privacy.size();
    }
    const wire::Reading* rd = b.row_reading[r];
    if (rd == nullptr) continue;
    const size_t row_start = b.privacy.size();
    for (const PrivacyRule& rule : rules_) {
      auto apply = [&](uint32_t attr, std::string_view value) {
        if (handled(b.privacy, row_start, attr)) return;
        engine::PrivacyEdit e;
        e.frame = b.row_frame[r];
        e.row = r;
        e.attr = attr;
        e.drop = rule.drop;
        e.rule = rule.name;
        if (!rule.drop) pseudonymise(*rule.key, value, e.pseudonym);
        b.privacy.push_back(e);
      };
      if (rule.attribute.empty()) {
        apply(UINT32_MAX, rd->sensor_id()->string_view());
      } else if (const auto* attrs = rd->attributes()) {
        for (uint32_t i = 0; i < attrs->size(); ++i) {
          const auto* a = attrs->Get(i);
          if (a->key() != nullptr && a->key()->string_view() == rule.attribute)
            apply(i, a->value() != nullptr ? a->value()->string_view() : std::string_view());
        }
      }
    }
  }
  finish_frame();
  // Keep the side table ordered by frame, then row (another privacy stage may run earlier).
  if (before > 0 && b.privacy.size() > before)
    std::stable_sort(b.privacy.begin(), b.privacy.end(),
                     [](const engine::PrivacyEdit& x, const engine::PrivacyEdit& y) {
                       return x.frame != y.frame ? x.frame < y.frame : x.row < y.row;
                     });
}

std::unique_ptr<engine::Operator> Privacy::from_config(const engine::ConfigNode& c,
                                                       engine::BuildContext&) {
  std::vector<PrivacyRule> rules;
  const engine::ConfigNode list = c.get("rules");
  for (const engine::ConfigNode& rc : list.items()) {
    PrivacyRule rule;
    const engine::ConfigNode name = rc.get("name");
    rule.name = name.as_string();
    if (rule.name.empty()) name.fail("must not be empty");
    for (const PrivacyRule& other : rules)
      if (other.name == rule.name) name.fail("duplicate rule name '" + rule.name + "'");
    const engine::ConfigNode field = rc.get("field");
    const std::string f = field.as_string();
    const std::string prefix = "attributes.";
    if (f.rfind(prefix, 0) == 0 && f.size() > prefix.size())
      rule.attribute = f.substr(prefix.size());
    else if (f != "sensor_id")
      field.fail("unknown field '" + f + "' (sensor_id, or attributes.NAME)");
    const engine::ConfigNode action = rc.get("action");
    const std::string a = action.as_string();
    if (a == "drop") {
      rule.drop = true;
      if (rule.attribute.empty())
        action.fail("sensor_id is required in a Reading: it can be pseudonymised, not dropped");
      if (rc.has("key") || rc.has("key_env"))
        (rc.has("key") ? rc.get("key") : rc.get("key_env")).fail("a drop rule takes no key");
    } else if (a == "pseudonymise" || a == "pseudonymize") {
      rule.key = load_key(rc);
    } else {
      action.fail("unknown action '" + a + "' (drop, pseudonymise)");
    }
    rc.finish();
    rules.push_back(std::move(rule));
  }
  if (rules.empty()) list.fail("at least one rule is required");
  if (rules.size() > 64) list.fail("at most 64 rules");
  return std::make_unique<Privacy>(std::move(rules));
}

}  // namespace assay::operators
