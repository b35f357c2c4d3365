#include "engine/config.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace assay::engine {

ConfigError::ConfigError(std::string file, int line, int column, std::string key,
                         std::string message)
    : std::runtime_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) +
                         ": " + (key.empty() ? std::string() : "key '" + key + "': ") + message),
      file_(std::move(file)),
      line_(line),
      column_(column),
      key_(std::move(key)),
      message_(std::move(message)) {}

namespace {

std::string dir_of(const std::string& file) {
  std::filesystem::path p(file);
  auto parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Doc> doc,
                       YAML::Mark key_mark)
    : node_(std::move(node)),
      path_(std::move(path)),
      doc_(std::move(doc)),
      key_mark_(key_mark),
      used_(std::make_shared<std::set<std::string>>()) {}

ConfigNode ConfigNode::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, 0, 0, "", "cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  ConfigNode n = load_string(ss.str(), path);
  n.doc_->dir = dir_of(path);
  return n;
}

ConfigNode ConfigNode::load_string(const std::string& text, const std::string& name) {
  auto doc = std::make_shared<Doc>(Doc{name, dir_of(name)});
  try {
    YAML::Node root = YAML::Load(text);
    return ConfigNode(root, "", doc, root.Mark());
  } catch (const YAML::ParserException& e) {
    throw ConfigError(name, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name, e.mark.line + 1, e.mark.column + 1, "", e.msg);
  }
}

void ConfigNode::fail(const std::string& message) const {
  YAML::Mark m = node_ ? node_.Mark() : key_mark_;
  if (m.line < 0) m = key_mark_;
  throw ConfigError(doc_->file, m.line + 1, m.column + 1, path_, message);
}

bool ConfigNode::has(const std::string& key) const {
  if (!node_.IsMap()) return false;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.Scalar() == key) return true;
  }
  return false;
}

std::optional<ConfigNode> ConfigNode::maybe(const std::string& key) const {
  if (!node_ || node_.IsNull()) return std::nullopt;
  if (!node_.IsMap()) fail("expected a map with key '" + key + "'");
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.Scalar() == key) {
      used_->insert(key);
      return ConfigNode(it->second, path_.empty() ? key : path_ + "." + key, doc_, it->first.Mark());
    }
  }
  return std::nullopt;
}

ConfigNode ConfigNode::get(const std::string& key) const {
  auto c = maybe(key);
  if (!c) {
    const std::string full = path_.empty() ? key : path_ + "." + key;
    YAML::Mark m = node_ ? node_.Mark() : key_mark_;
    throw ConfigError(doc_->file, m.line + 1, m.column + 1, full, "required key is missing");
  }
  return *c;
}

std::vector<ConfigNode> ConfigNode::items() const {
  if (!node_.IsSequence()) fail("expected a list");
  std::vector<ConfigNode> out;
  size_t i = 0;
  for (auto it = node_.begin(); it != node_.end(); ++it, ++i) {
    out.push_back(ConfigNode(*it, path_ + "[" + std::to_string(i) + "]", doc_, it->Mark()));
  }
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  if (!node_.IsMap()) fail("expected a map");
  std::vector<std::string> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    out.push_back(it->first.Scalar());
    used_->insert(it->first.Scalar());
  }
  return out;
}

void ConfigNode::finish() const {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string& k = it->first.Scalar();
    if (used_->count(k) == 0) {
      const YAML::Mark m = it->first.Mark();
      throw ConfigError(doc_->file, m.line + 1, m.column + 1, path_.empty() ? k : path_ + "." + k,
                        "unknown key");
    }
  }
}

std::string interpolate_env(const std::string& text, std::string* missing_var) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t end = text.find('}', i + 2);
      if (end == std::string::npos) {
        out.append(text, i, std::string::npos);
        break;
      }
      std::string expr = text.substr(i + 2, end - i - 2);
      std::string def;
      bool has_def = false;
      if (auto p = expr.find(":-"); p != std::string::npos) {
        def = expr.substr(p + 2);
        expr = expr.substr(0, p);
        has_def = true;
      }
      const char* v = std::getenv(expr.c_str());
      if (v != nullptr && *v != '\0') {
        out += v;
      } else if (has_def) {
        out += def;
      } else if (missing_var != nullptr && missing_var->empty()) {
        *missing_var = expr;
      }
      i = end + 1;
      continue;
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::string ConfigNode::scalar_text() const {
  if (!node_ || node_.IsNull()) fail("a value is required");
  if (!node_.IsScalar()) fail("expected a single value, not a list or map");
  std::string missing;
  std::string v = interpolate_env(node_.Scalar(), &missing);
  if (!missing.empty()) fail("environment variable '" + missing + "' is not set");
  return v;
}

std::string ConfigNode::as_string() const { return scalar_text(); }

int64_t ConfigNode::as_int(int64_t min, int64_t max) const {
  const std::string s = scalar_text();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0) fail("expected an integer, got '" + s + "'");
  if (v < min || v > max)
    fail("value " + s + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

double ConfigNode::as_double() const {
  const std::string s = scalar_text();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) fail("expected a finite number, got '" + s + "'");
  return v;
}

bool ConfigNode::as_bool() const {
  const std::string s = scalar_text();
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail("expected true or false, got '" + s + "'");
}

std::string ConfigNode::as_path() const {
  const std::string s = scalar_text();
  if (s.empty()) fail("expected a path");
  if (s == "-" || s.front() == '/') return s;
  return (std::filesystem::path(doc_->dir) / s).lexically_normal().string();
}

std::string ConfigNode::get_string(const std::string& key, const std::string& def) const {
  auto c = maybe(key);
  return c ? c->as_string() : def;
}
int64_t ConfigNode::get_int(const std::string& key, int64_t def, int64_t min, int64_t max) const {
  auto c = maybe(key);
  return c ? c->as_int(min, max) : def;
}
double ConfigNode::get_double(const std::string& key, double def) const {
  auto c = maybe(key);
  return c ? c->as_double() : def;
}
bool ConfigNode::get_bool(const std::string& key, bool def) const {
  auto c = maybe(key);
  return c ? c->as_bool() : def;
}

}  // namespace assay::engine
