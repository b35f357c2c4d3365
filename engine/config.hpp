#pragma once
/// \file Validated access to YAML configuration. Every error names file:line:column and the
/// offending key; unknown keys are errors. Exceptions (ConfigError) are used only here, at
/// the configuration boundary.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace assay::engine {

/// A configuration error with its location. what() = "file:line:column: key 'k': message".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string key, std::string message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }      ///< 1-based
  int column() const { return column_; }  ///< 1-based
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_, column_;
  std::string key_, message_;
};

/// A node of a loaded configuration file with its key path ("operators[1].registry") and
/// source location. Map nodes remember which keys were read so that finish() can refuse
/// unknown keys.
class ConfigNode {
 public:
  /// Loads and parses a YAML (or JSON) file; throws ConfigError on syntax errors.
  static ConfigNode load_file(const std::string& path);
  /// Parses YAML text; `name` is used as the file name in errors.
  static ConfigNode load_string(const std::string& text, const std::string& name);

  /// True if this map has `key`.
  bool has(const std::string& key) const;
  /// Child `key` (required: throws naming this map's location if missing).
  ConfigNode get(const std::string& key) const;
  /// Child `key` if present.
  std::optional<ConfigNode> maybe(const std::string& key) const;
  /// Items of a sequence (throws if not a sequence).
  std::vector<ConfigNode> items() const;
  /// Keys of a map in file order (all marked as read).
  std::vector<std::string> keys() const;

  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return !node_ || node_.IsNull(); }

  /// Scalar conversions; `${VAR}` / `${VAR:-default}` in strings are replaced from the
  /// environment. Throw ConfigError on a wrong type or an out-of-range value.
  std::string as_string() const;
  int64_t as_int(int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  double as_double() const;
  bool as_bool() const;
  /// A path: interpolated, and resolved relative to the directory of the config file.
  std::string as_path() const;

  /// Typed getters with defaults for optional keys.
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key, int64_t def, int64_t min = INT64_MIN,
                  int64_t max = INT64_MAX) const;
  double get_double(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;

  /// Throws for the first key of this map that was never read (a typo or an unsupported option).
  void finish() const;
  /// Throws a ConfigError located at this node.
  [[noreturn]] void fail(const std::string& message) const;

  /// Dotted key path of this node.
  const std::string& path() const { return path_; }
  /// File name this node was loaded from.
  const std::string& file() const { return doc_->file; }
  /// Directory of that file (for relative paths).
  const std::string& dir() const { return doc_->dir; }
  int line() const { return node_.Mark().line + 1; }
  int column() const { return node_.Mark().column + 1; }
  /// The underlying YAML node.
  const YAML::Node& yaml() const { return node_; }

 private:
  struct Doc {
    std::string file, dir;
  };
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Doc> doc, YAML::Mark key_mark);
  std::string scalar_text() const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<Doc> doc_;
  YAML::Mark key_mark_;  ///< where this node's key is (for "missing"/"unknown" errors)
  std::shared_ptr<std::set<std::string>> used_;
};

/// Replaces ${VAR} and ${VAR:-default} from the environment; nullopt names a missing variable.
std::string interpolate_env(const std::string& text, std::string* missing_var);

}  // namespace assay::engine
