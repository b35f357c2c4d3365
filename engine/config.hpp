#pragma once
/// \file Validated access to YAML and JSON configuration. Every error names file:line:column and the
/// offending key; unknown keys are errors. Exceptions (ConfigError) are used only here, at
/// the configuration boundary.

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
/// source location. YAML files go through yaml-cpp's event parser, JSON files through a real
/// JSON parser (nlohmann-json: surrogate pairs, strict syntax); both build the same tree, in
/// which a duplicate map key, a second YAML document and an alias expansion beyond a bound are
/// errors. Map entries remember whether they were read so that finish() can refuse unknown
/// keys. Nodes are cheap views that share the loaded document.
class ConfigNode {
 public:
  struct Value;  ///< a node of the loaded tree (engine/config.cpp)
  struct Doc;    ///< a loaded document: owns the tree
  /// Loads a YAML or JSON file (JSON if the name ends in ".json"), at most `max_bytes`
  /// long, refusing anything but a regular file; throws ConfigError.
  static ConfigNode load_file(const std::string& path, size_t max_bytes = kMaxConfigFileBytes);
  /// Parses text; `name` is used as the file name in errors and decides the syntax like
  /// load_file does; text whose first character is `{` or `[` and that is valid JSON is read
  /// as JSON too (a registry-topic message may be either).
  static ConfigNode load_string(const std::string& text, const std::string& name);
  /// Parses JSON text strictly (errors name line:column).
  static ConfigNode load_json(const std::string& text, const std::string& name);
  /// Largest configuration, registry or certificate file load_file reads by default.
  static constexpr size_t kMaxConfigFileBytes = size_t{1} << 30;

  /// True if this map has `key`.
  bool has(const std::string& key) const;
  /// Child `key` (required: throws naming this map's location if missing).
  ConfigNode get(const std::string& key) const;
  /// Child `key` if present (marked as read).
  std::optional<ConfigNode> maybe(const std::string& key) const;
  /// Child `key` if present, without marking it as read (for error reports).
  std::optional<ConfigNode> peek(const std::string& key) const;
  /// Items of a sequence (throws if not a sequence).
  std::vector<ConfigNode> items() const;
  /// Keys of a map in file order (all marked as read).
  std::vector<std::string> keys() const;
  /// Entries of a map in file order (all marked as read).
  std::vector<std::pair<std::string, ConfigNode>> entries() const;

  bool is_map() const;
  bool is_sequence() const;
  bool is_scalar() const;
  bool is_null() const;

  /// The scalar's text as written (no environment interpolation); empty if not a scalar.
  const std::string& scalar() const;
  /// A compact one-line rendering (flow style) for messages.
  std::string to_flow() const;

  /// Scalar conversions; `${VAR}` / `${VAR:-default}` in strings are replaced from the
  /// environment. Throw ConfigError on a wrong type or an out-of-range value.
  std::string as_string() const;
  int64_t as_int(int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  double as_double() const;
  bool as_bool() const;
  /// A path: interpolated, and resolved relative to the directory of the config file.
  std::string as_path() const;
  /// The content of the file at as_path(): a regular file of at most `max_bytes` (a secret, a
  /// key, a certificate); fails located at this node otherwise (never naming the content).
  std::string read_file(size_t max_bytes = kMaxSecretFileBytes) const;
  /// Default bound of read_file(): secrets and keys are small.
  static constexpr size_t kMaxSecretFileBytes = 64 * 1024;

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
  const std::string& file() const;
  /// Directory of that file (for relative paths).
  const std::string& dir() const;
  int line() const;    ///< 1-based
  int column() const;  ///< 1-based
  /// "file:line:column" of this node.
  std::string location() const;

 private:
  ConfigNode(std::shared_ptr<const Doc> doc, const Value* value, std::string path, int key_line,
             int key_column);
  std::string scalar_text() const;
  const Value* child(const std::string& key, bool mark) const;

  std::shared_ptr<const Doc> doc_;
  const Value* v_ = nullptr;  ///< null: an absent node
  std::string path_;
  int key_line_ = 0, key_column_ = 0;  ///< where this node's key is (for "missing" errors)
};

/// Reads a whole file that must be a regular file of at most `max_bytes` (a FIFO, a device
/// such as /dev/zero or a directory is refused, never read). False with `error`.
bool read_regular_file(const std::string& path, size_t max_bytes, std::string& out,
                       std::string& error);

/// Replaces ${VAR} and ${VAR:-default} from the environment. `missing_var` receives the
/// first variable that is neither set nor defaulted; `error` (if given) describes a syntax
/// error such as an unterminated `${`.
std::string interpolate_env(const std::string& text, std::string* missing_var,
                            std::string* error = nullptr);

}  // namespace assay::engine
