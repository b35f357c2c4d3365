#include "registries/identity_registry.hpp"

#include <fstream>
#include <map>
#include <sstream>

#include "crypto/ed25519.hpp"
#include "engine/bytes.hpp"
#include "engine/time.hpp"

namespace assay::registries {

using engine::ConfigError;
using engine::ConfigNode;

const SensorKey* IdentityRegistry::find_key(std::string_view key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

const SensorInfo* IdentityRegistry::find_sensor(std::string_view sensor_id) const {
  auto it = sensors_.find(sensor_id);
  return it == sensors_.end() ? nullptr : &it->second;
}

void IdentityRegistry::erase(std::string_view sensor_id) {
  auto it = sensors_.find(sensor_id);
  if (it == sensors_.end()) return;
  for (const auto& k : it->second.key_ids) keys_.erase(k);
  sensors_.erase(it);
}

void IdentityRegistry::put(SensorInfo sensor, std::vector<SensorKey> keys) {
  erase(sensor.sensor_id);
  for (auto& k : keys) {
    sensor.key_ids.push_back(k.key_id);
    std::string id = k.key_id;
    keys_.insert_or_assign(std::move(id), std::move(k));
  }
  std::string id = sensor.sensor_id;
  sensors_.insert_or_assign(std::move(id), std::move(sensor));
}

namespace {

// A time by the one rule of engine::parse_time: a validity bound beyond 1677..2262 is
// unbounded on that side; anything else that is not a representable RFC 3339 time is refused.
int64_t parse_time(const ConfigNode& n, engine::TimeBound bound) {
  const engine::ParsedTime t = engine::parse_time(n.as_string(), bound);
  if (!t.ns) n.fail(t.error);
  return *t.ns;
}

std::string read_secret_file(const ConfigNode& n) {
  std::string s = n.read_file();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The ECDSA algorithms by registry name, with their curve.
bool ecdsa_alg(const std::string& name, wire::SignatureAlg& alg, crypto::EcdsaCurve& curve) {
  static const struct {
    const char* name;
    wire::SignatureAlg alg;
    crypto::EcdsaCurve curve;
  } kAlgs[] = {
      {"EcdsaP256Sha256", wire::SignatureAlg::EcdsaP256Sha256, crypto::EcdsaCurve::kP256},
      {"EcdsaP384Sha384", wire::SignatureAlg::EcdsaP384Sha384, crypto::EcdsaCurve::kP384},
      {"EcdsaP384Sha256", wire::SignatureAlg::EcdsaP384Sha256, crypto::EcdsaCurve::kP384},
      {"EcdsaBrainpoolP256r1Sha256", wire::SignatureAlg::EcdsaBrainpoolP256r1Sha256,
       crypto::EcdsaCurve::kBrainpoolP256r1},
      {"EcdsaBrainpoolP384r1Sha384", wire::SignatureAlg::EcdsaBrainpoolP384r1Sha384,
       crypto::EcdsaCurve::kBrainpoolP384r1},
      {"EcdsaBrainpoolP384r1Sha256", wire::SignatureAlg::EcdsaBrainpoolP384r1Sha256,
       crypto::EcdsaCurve::kBrainpoolP384r1},
  };
  for (const auto& a : kAlgs)
    if (name == a.name) {
      alg = a.alg;
      curve = a.curve;
      return true;
    }
  return false;
}

SensorKey parse_key(const ConfigNode& kc, const std::string& sensor_id) {
  SensorKey k;
  crypto::EcdsaCurve curve = crypto::EcdsaCurve::kP256;
  k.sensor_id = sensor_id;
  k.key_id = kc.get("key_id").as_string();
  if (k.key_id.empty()) kc.get("key_id").fail("must not be empty");
  const ConfigNode algn = kc.get("alg");
  const std::string alg = algn.as_string();
  if (alg == "Ed25519") {
    k.alg = wire::SignatureAlg::Ed25519;
    const ConfigNode pk = kc.get("public_key");
    auto bytes = engine::from_hex(pk.as_string());
    if (!bytes || bytes->size() != 32) pk.fail("Ed25519 public_key must be 64 hex characters");
    std::copy(bytes->begin(), bytes->end(), k.ed25519.begin());
    if (!crypto::ed25519_public_key_valid(k.ed25519.data()))
      pk.fail("not a valid Ed25519 public key (non-canonical, small order or with torsion)");
  } else if (ecdsa_alg(alg, k.alg, curve)) {
    // Meter makers publish keys as DER or PEM SubjectPublicKeyInfo or hex of either (OCMF),
    // sensors as SEC1 points in hex: all of them, inline or from a file.
    std::vector<uint8_t> bytes;
    std::optional<ConfigNode> src = kc.maybe("public_key");
    if (src) {
      const std::string text = src->as_string();
      bytes.assign(text.begin(), text.end());
    } else {
      src = kc.maybe("public_key_file");
      if (!src) kc.fail("an " + alg + " key needs public_key or public_key_file");
      const std::string text = src->read_file();
      bytes.assign(text.begin(), text.end());
    }
    crypto::EcdsaKeyParse parsed = crypto::EcdsaPublicKey::parse(curve, bytes);
    if (!parsed)
      src->fail("not a valid " + std::string(crypto::ecdsa_curve_name(curve)) +
                " public key: " + std::string(crypto::ecdsa_key_error_text(parsed.error)) +
                " (hex SEC1 point, hex DER or PEM SubjectPublicKeyInfo)");
    k.ec = std::move(parsed.key);
    if (curve == crypto::EcdsaCurve::kP256) k.ecdsa = *k.ec->p256();
  } else if (alg == "HmacSha256") {
    k.alg = wire::SignatureAlg::HmacSha256;
    std::string hex;
    std::optional<ConfigNode> src = kc.maybe("secret_file");
    if (src) {
      hex = read_secret_file(*src);
    } else {
      src = kc.maybe("secret_env");
      if (!src) kc.fail("an HmacSha256 key needs secret_file or secret_env");
      const std::string var = src->as_string();
      const char* v = std::getenv(var.c_str());
      if (v == nullptr) src->fail("environment variable '" + var + "' is not set");
      hex = v;
    }
    auto secret = engine::from_hex(hex);
    if (!secret || secret->size() < 16)
      src->fail("HMAC secret must be hex-encoded and at least 16 bytes");
    k.hmac = crypto::HmacSha256Key::from_secret(*secret);
    std::fill(secret->begin(), secret->end(), 0);
  } else {
    algn.fail(
        "unknown alg '" + alg +
        "' (Ed25519, EcdsaP256Sha256, HmacSha256, EcdsaP384Sha384, EcdsaP384Sha256, "
        "EcdsaBrainpoolP256r1Sha256, EcdsaBrainpoolP384r1Sha384, EcdsaBrainpoolP384r1Sha256)");
  }
  if (auto n = kc.maybe("valid_from")) k.valid_from_ns = parse_time(*n, engine::TimeBound::kFrom);
  if (auto n = kc.maybe("valid_until"))
    k.valid_until_ns = parse_time(*n, engine::TimeBound::kUntil);
  if (k.valid_until_ns < k.valid_from_ns) kc.get("valid_until").fail("valid_until is before valid_from");
  k.revoked = kc.get_bool("revoked", false);
  kc.finish();
  return k;
}

}  // namespace

SensorEntry parse_sensor_entry(const ConfigNode& sc, RegistryLoadReport& report) {
  SensorEntry e;
  SensorInfo& s = e.sensor;
  s.sensor_id = sc.get("sensor_id").as_string();
  if (s.sensor_id.empty()) sc.get("sensor_id").fail("must not be empty");
  s.owner = sc.get_string("owner", "");
  s.redundancy_group = sc.get_string("redundancy_group", "");
  s.quantity = sc.get_string("quantity", "");
  s.unit = sc.get_string("unit", "");
  if (auto r = sc.maybe("measuring_range")) {
    s.range_min = r->get("min").as_double();
    s.range_max = r->get("max").as_double();
    if (*s.range_max < *s.range_min) r->fail("max is below min");
    r->finish();
  }
  if (auto fw = sc.maybe("approved_firmware")) {
    for (const ConfigNode& h : fw->items()) {
      auto b = engine::from_hex(h.as_string());
      if (!b || b->size() != 32) h.fail("firmware hash must be 64 hex characters (SHA-256)");
      std::array<uint8_t, 32> a;
      std::copy(b->begin(), b->end(), a.begin());
      s.approved_firmware.push_back(a);
    }
  }
  if (auto ks = sc.maybe("keys")) {
    for (const ConfigNode& kc : ks->items()) {
      try {
        e.keys.push_back(parse_key(kc, s.sensor_id));
      } catch (const ConfigError& err) {
        report.refused.push_back(err.what());  // a bad key is refused; the sensor still loads
      }
    }
  }
  sc.finish();
  return e;
}

std::shared_ptr<const IdentityRegistry> load_identity_registry(const std::string& path,
                                                               RegistryLoadReport& report) {
  const ConfigNode root = ConfigNode::load_file(path);
  auto reg = std::make_shared<IdentityRegistry>();
  const ConfigNode sensors = root.get("sensors");
  root.finish();
  // Sensor ids and key ids are unique in a registry: a second entry would silently replace the
  // first (a revoked key made valid again by a later copy), so the whole file is refused and
  // the previous registry stays (issue 13 item 9).
  std::map<std::string, std::string, std::less<>> sensor_at, key_at;
  for (const ConfigNode& sc : sensors.items()) {
    if (const auto id = sc.peek("sensor_id"); id && id->is_scalar()) {
      auto [it, fresh] = sensor_at.emplace(id->scalar(), id->location());
      if (!fresh) id->fail("duplicate sensor_id '" + id->scalar() + "' (first at " + it->second + ")");
    }
    if (const auto keys = sc.peek("keys"); keys && keys->is_sequence())
      for (const ConfigNode& k : keys->items())
        if (const auto kid = k.peek("key_id"); kid && kid->is_scalar()) {
          auto [it, fresh] = key_at.emplace(kid->scalar(), kid->location());
          if (!fresh) kid->fail("duplicate key_id '" + kid->scalar() + "' (first at " + it->second + ")");
        }
  }
  for (const ConfigNode& sc : sensors.items()) {
    try {
      SensorEntry e = parse_sensor_entry(sc, report);
      report.keys += e.keys.size();
      ++report.sensors;
      reg->put(std::move(e.sensor), std::move(e.keys));
    } catch (const ConfigError& e) {
      report.refused.push_back(e.what());
    }
  }
  return reg;
}

}  // namespace assay::registries
