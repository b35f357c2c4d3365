#include "engine/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
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

// ---- the tree ---------------------------------------------------------------------------

/// One node of a loaded document.
struct ConfigNode::Value {
  enum class Kind : uint8_t { kNull, kScalar, kMap, kSequence };
  /// A map entry: its key, where the key is, whether it was read, and its value.
  struct Entry {
    std::string key;
    int line = 0, column = 0;
    mutable bool used = false;
    Value* value = nullptr;
  };
  Kind kind = Kind::kNull;
  int line = 0, column = 0;  ///< 1-based
  std::string scalar;
  std::vector<Entry> map;
  std::vector<Value*> seq;
};

/// A loaded document: owns every node.
struct ConfigNode::Doc {
  std::string file, dir;
  std::vector<std::unique_ptr<Value>> nodes;
  Value* root = nullptr;
  Value* make(Value::Kind kind, int line, int column) {
    nodes.push_back(std::make_unique<Value>());
    Value* v = nodes.back().get();
    v->kind = kind;
    v->line = line;
    v->column = column;
    return v;
  }
};

namespace {

using Value = ConfigNode::Value;
using Kind = Value::Kind;

// Bound on the nodes of one document: an alias bomb ("billion laughs") or a pathological
// file is refused instead of exhausting memory.
constexpr size_t kMaxNodes = size_t{20} << 20;
// Bound on nesting (the parsers recurse on it).
constexpr size_t kMaxDepth = 256;

std::string dir_of(const std::string& file) {
  std::filesystem::path p(file);
  auto parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Builds the tree from a container stack; shared by the YAML and the JSON builder.
class TreeBuilder {
 public:
  TreeBuilder(ConfigNode::Doc& doc, std::string file) : doc_(doc), file_(std::move(file)) {}

  // Adds a finished node at the current position (map value, sequence item or root).
  void add(Value* v) {
    if (++count_ > kMaxNodes) fail(v->line, v->column, "document too large (more than " +
                                                          std::to_string(kMaxNodes) + " nodes)");
    if (stack_.empty()) {
      if (doc_.root != nullptr) fail(v->line, v->column, "a second document is not allowed");
      doc_.root = v;
      return;
    }
    Value* top = stack_.back();
    if (top->kind == Kind::kSequence) {
      top->seq.push_back(v);
      return;
    }
    if (!key_pending_) {  // a map key
      if (v->kind != Kind::kScalar && v->kind != Kind::kNull)
        fail(v->line, v->column, "a map key must be a plain value");
      for (const auto& e : top->map)
        if (e.key == v->scalar)
          fail(v->line, v->column,
               "duplicate key '" + v->scalar + "' (first at line " + std::to_string(e.line) +
                   ", column " + std::to_string(e.column) + ")");
      top->map.push_back(Value::Entry{v->scalar, v->line, v->column, false, nullptr});
      key_pending_ = true;
      return;
    }
    top->map.back().value = v;
    key_pending_ = false;
  }
  void open(Value* v) {
    add(v);
    if (stack_.size() >= kMaxDepth) fail(v->line, v->column, "nesting too deep");
    stack_.push_back(v);
    key_pending_ = false;
  }
  void close() {
    stack_.pop_back();
    key_pending_ = false;  // a closed container was a value (or the root): a key comes next
  }
  // Whether the next add() is a map key.
  bool expecting_key() const {
    return !stack_.empty() && stack_.back()->kind == Kind::kMap && !key_pending_;
  }
  [[noreturn]] void fail(int line, int column, const std::string& message) const {
    throw ConfigError(file_, line, column, "", message);
  }
  size_t count() const { return count_; }
  void count_more(size_t n, int line, int column) {
    count_ += n;
    if (count_ > kMaxNodes) fail(line, column, "document too large (alias expansion)");
  }

 private:
  ConfigNode::Doc& doc_;
  std::string file_;
  std::vector<Value*> stack_;
  bool key_pending_ = false;
  size_t count_ = 0;
};

// Copies a subtree (for a YAML alias), counting the nodes it adds.
size_t subtree_size(const Value* v) {
  size_t n = 1;
  for (const auto& e : v->map) n += 1 + subtree_size(e.value);
  for (const Value* s : v->seq) n += subtree_size(s);
  return n;
}

// libyaml events -> tree (libyaml: YAML 1.1 parser in C, from Debian; an event parser keeps
// the cost of a 100,000-certificate file at a few seconds).
class YamlReader {
 public:
  YamlReader(ConfigNode::Doc& doc, const std::string& file) : doc_(doc), b_(doc, file) {}

  void read(const std::string& text) {
    yaml_parser_t parser;
    if (yaml_parser_initialize(&parser) == 0) b_.fail(0, 0, "cannot start the YAML parser");
    struct Guard {
      yaml_parser_t* p;
      ~Guard() { yaml_parser_delete(p); }
    } guard{&parser};
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    int docs = 0;
    for (;;) {
      yaml_event_t ev;
      if (yaml_parser_parse(&parser, &ev) == 0) {
        const yaml_mark_t m = parser.problem_mark;
        std::string msg = parser.problem != nullptr ? parser.problem : "syntax error";
        if (parser.context != nullptr) msg = std::string(parser.context) + ": " + msg;
        b_.fail(static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1,
                "YAML syntax error: " + msg);
      }
      struct EventGuard {
        yaml_event_t* e;
        ~EventGuard() { yaml_event_delete(e); }
      } eg{&ev};
      const int line = static_cast<int>(ev.start_mark.line) + 1;
      const int col = static_cast<int>(ev.start_mark.column) + 1;
      switch (ev.type) {
        case YAML_STREAM_END_EVENT:
          return;
        case YAML_DOCUMENT_START_EVENT:
          if (++docs > 1) b_.fail(line, col, "a second YAML document is not allowed");
          break;
        case YAML_SCALAR_EVENT: {
          const auto& sc = ev.data.scalar;
          std::string value(reinterpret_cast<const char*>(sc.value), sc.length);
          const bool plain = sc.style == YAML_PLAIN_SCALAR_STYLE;
          const bool null = plain && sc.tag == nullptr &&
                            (value.empty() || value == "~" || value == "null" ||
                             value == "Null" || value == "NULL");
          Value* v = doc_.make(null ? Kind::kNull : Kind::kScalar, line, col);
          if (!null) v->scalar = std::move(value);
          b_.add(v);
          remember(sc.anchor, v);
          break;
        }
        case YAML_ALIAS_EVENT: {
          auto it = anchors_.find(reinterpret_cast<const char*>(ev.data.alias.anchor));
          if (it == anchors_.end()) b_.fail(line, col, "unknown alias");
          const Value* target = it->second;
          if (b_.expecting_key()) {  // a key that is an alias is its scalar
            Value* k = doc_.make(Kind::kScalar, line, col);
            k->scalar = target->scalar;
            b_.add(k);
            break;
          }
          // A value shares the anchored node (a read-only tree; `used` marks are shared,
          // which is harmless: the same text is the same configuration).
          b_.count_more(subtree_size(target), line, col);
          b_.add(const_cast<Value*>(target));
          break;
        }
        case YAML_SEQUENCE_START_EVENT: {
          Value* v = doc_.make(Kind::kSequence, line, col);
          b_.open(v);
          remember(ev.data.sequence_start.anchor, v);
          break;
        }
        case YAML_MAPPING_START_EVENT: {
          Value* v = doc_.make(Kind::kMap, line, col);
          b_.open(v);
          remember(ev.data.mapping_start.anchor, v);
          break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
          b_.close();
          break;
        default:
          break;
      }
    }
  }

 private:
  void remember(const yaml_char_t* anchor, const Value* v) {
    if (anchor != nullptr) anchors_[reinterpret_cast<const char*>(anchor)] = v;
  }
  ConfigNode::Doc& doc_;
  TreeBuilder b_;
  std::map<std::string, const Value*, std::less<>> anchors_;
};

// 1-based line and column of byte `offset` in `text`.
std::pair<int, int> line_column(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return {line, static_cast<int>(offset - line_start) + 1};
}

// An input iterator over the text that counts what the JSON lexer consumed, so that every
// SAX event can be located.
struct CountingIterator {
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  const char* p = nullptr;
  size_t* consumed = nullptr;
  reference operator*() const { return *p; }
  CountingIterator& operator++() {
    ++p;
    if (consumed != nullptr) ++*consumed;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& o) const { return p == o.p; }
  bool operator!=(const CountingIterator& o) const { return p != o.p; }
};

// nlohmann SAX events -> tree. A token's start is the first character after the previous
// event's end that is not whitespace or a separator.
class JsonHandler {
 public:
  using json = nlohmann::json;
  JsonHandler(ConfigNode::Doc& doc, const std::string& text, const std::string& file,
              const size_t& consumed)
      : doc_(doc), text_(text), file_(file), consumed_(consumed), b_(doc, file) {}

  bool null() { return scalar(Kind::kNull, {}); }
  bool boolean(bool v) { return scalar(Kind::kScalar, v ? "true" : "false"); }
  bool number_integer(json::number_integer_t v) { return scalar(Kind::kScalar, std::to_string(v)); }
  bool number_unsigned(json::number_unsigned_t v) {
    return scalar(Kind::kScalar, std::to_string(v));
  }
  bool number_float(json::number_float_t, const json::string_t& s) { return scalar(Kind::kScalar, s); }
  bool string(json::string_t& s) { return scalar(Kind::kScalar, std::move(s)); }
  bool binary(json::binary_t&) { return scalar(Kind::kNull, {}); }
  bool key(json::string_t& s) { return scalar(Kind::kScalar, std::move(s)); }
  bool start_object(size_t) { return open(Kind::kMap); }
  bool end_object() { return close(); }
  bool start_array(size_t) { return open(Kind::kSequence); }
  bool end_array() { return close(); }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    auto [line, col] = line_column(text_, position > 0 ? position - 1 : 0);
    std::string msg = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (auto p = msg.find(": "); p != std::string::npos && msg.compare(0, 1, "[") == 0)
      msg = msg.substr(p + 2);
    throw ConfigError(file_, line, col, "", "JSON syntax error: " + msg);
  }

 private:
  std::pair<int, int> token_start() {
    size_t i = last_end_;
    while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' ||
                                text_[i] == '\r' || text_[i] == ',' || text_[i] == ':'))
      ++i;
    last_end_ = consumed_;
    return line_column(text_, i);
  }
  bool scalar(Kind kind, std::string s) {
    auto [line, col] = token_start();
    Value* v = doc_.make(kind, line, col);
    v->scalar = std::move(s);
    b_.add(v);
    return true;
  }
  bool open(Kind kind) {
    auto [line, col] = token_start();
    b_.open(doc_.make(kind, line, col));
    return true;
  }
  bool close() {
    last_end_ = consumed_;
    b_.close();
    return true;
  }
  ConfigNode::Doc& doc_;
  const std::string& text_;
  const std::string& file_;
  const size_t& consumed_;
  TreeBuilder b_;
  size_t last_end_ = 0;
};

void render(const Value* v, std::string& out) {
  if (v == nullptr || v->kind == Kind::kNull) {
    out += "null";
  } else if (v->kind == Kind::kScalar) {
    out += v->scalar;
  } else if (v->kind == Kind::kSequence) {
    out += '[';
    for (size_t i = 0; i < v->seq.size(); ++i) {
      if (i > 0) out += ", ";
      render(v->seq[i], out);
    }
    out += ']';
  } else {
    out += '{';
    for (size_t i = 0; i < v->map.size(); ++i) {
      if (i > 0) out += ", ";
      out += v->map[i].key;
      out += ": ";
      render(v->map[i].value, out);
    }
    out += '}';
  }
}

const std::string kEmpty;

}  // namespace

// ---- loading ------------------------------------------------------------------------------

bool read_regular_file(const std::string& path, size_t max_bytes, std::string& out,
                       std::string& error) {
  // O_NONBLOCK: opening a FIFO without a writer must not hang; it is refused below anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    error = std::string("cannot open file: ") + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = S_ISDIR(st.st_mode) ? "is a directory, not a file"
                                : "is not a regular file (a device, FIFO or socket is refused)";
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    error = "file is too large (" + std::to_string(st.st_size) + " bytes; the limit is " +
            std::to_string(max_bytes) + ")";
    return false;
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);  // a file that shrank while being read is read as what was there
  return true;
}

ConfigNode::ConfigNode(std::shared_ptr<const Doc> doc, const Value* value, std::string path,
                       int key_line, int key_column)
    : doc_(std::move(doc)),
      v_(value),
      path_(std::move(path)),
      key_line_(key_line),
      key_column_(key_column) {}

ConfigNode ConfigNode::load_file(const std::string& path, size_t max_bytes) {
  std::string text, error;
  if (!read_regular_file(path, max_bytes, text, error)) throw ConfigError(path, 0, 0, "", error);
  return load_string(text, path);
}

ConfigNode ConfigNode::load_string(const std::string& text, const std::string& name) {
  if (ends_with(name, ".json")) return load_json(text, name);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
    try {
      return load_json(text, name);
    } catch (const ConfigError&) {
      // Not JSON: YAML flow style (its own errors follow).
    }
  }
  auto doc = std::make_shared<Doc>();
  doc->file = name;
  doc->dir = dir_of(name);
  YamlReader(*doc, name).read(text);
  if (doc->root == nullptr) doc->root = doc->make(Kind::kNull, 1, 1);
  const Value* root = doc->root;
  return ConfigNode(std::move(doc), root, "", root->line, root->column);
}

ConfigNode ConfigNode::load_json(const std::string& text, const std::string& name) {
  auto doc = std::make_shared<Doc>();
  doc->file = name;
  doc->dir = dir_of(name);
  size_t consumed = 0;
  JsonHandler handler(*doc, text, name, consumed);
  CountingIterator first{text.data(), &consumed}, last{text.data() + text.size(), nullptr};
  nlohmann::json::sax_parse(first, last, &handler, nlohmann::json::input_format_t::json,
                            /*strict=*/true);
  if (doc->root == nullptr) doc->root = doc->make(Kind::kNull, 1, 1);
  const Value* root = doc->root;
  return ConfigNode(std::move(doc), root, "", root->line, root->column);
}

// ---- access -------------------------------------------------------------------------------

const std::string& ConfigNode::file() const { return doc_->file; }
const std::string& ConfigNode::dir() const { return doc_->dir; }
int ConfigNode::line() const { return v_ != nullptr ? v_->line : key_line_; }
int ConfigNode::column() const { return v_ != nullptr ? v_->column : key_column_; }
std::string ConfigNode::location() const {
  return file() + ":" + std::to_string(line()) + ":" + std::to_string(column());
}
bool ConfigNode::is_map() const { return v_ != nullptr && v_->kind == Kind::kMap; }
bool ConfigNode::is_sequence() const { return v_ != nullptr && v_->kind == Kind::kSequence; }
bool ConfigNode::is_scalar() const { return v_ != nullptr && v_->kind == Kind::kScalar; }
bool ConfigNode::is_null() const { return v_ == nullptr || v_->kind == Kind::kNull; }
const std::string& ConfigNode::scalar() const { return is_scalar() ? v_->scalar : kEmpty; }

std::string ConfigNode::to_flow() const {
  std::string out;
  render(v_, out);
  return out;
}

void ConfigNode::fail(const std::string& message) const {
  throw ConfigError(doc_->file, line(), column(), path_, message);
}

const Value* ConfigNode::child(const std::string& key, bool mark) const {
  if (!is_map()) return nullptr;
  for (const auto& e : v_->map)
    if (e.key == key) {
      if (mark) e.used = true;
      return e.value;
    }
  return nullptr;
}

bool ConfigNode::has(const std::string& key) const {
  if (!is_map()) return false;
  for (const auto& e : v_->map)
    if (e.key == key) return true;
  return false;
}

std::optional<ConfigNode> ConfigNode::maybe(const std::string& key) const {
  if (is_null()) return std::nullopt;
  if (!is_map()) fail("expected a map with key '" + key + "'");
  for (const auto& e : v_->map)
    if (e.key == key) {
      e.used = true;
      return ConfigNode(doc_, e.value, path_.empty() ? key : path_ + "." + key, e.line, e.column);
    }
  return std::nullopt;
}

std::optional<ConfigNode> ConfigNode::peek(const std::string& key) const {
  if (!is_map()) return std::nullopt;
  for (const auto& e : v_->map)
    if (e.key == key)
      return ConfigNode(doc_, e.value, path_.empty() ? key : path_ + "." + key, e.line, e.column);
  return std::nullopt;
}

ConfigNode ConfigNode::get(const std::string& key) const {
  auto c = maybe(key);
  if (!c) {
    const std::string full = path_.empty() ? key : path_ + "." + key;
    throw ConfigError(doc_->file, line(), column(), full, "required key is missing");
  }
  return *c;
}

std::vector<ConfigNode> ConfigNode::items() const {
  if (!is_sequence()) fail("expected a list");
  std::vector<ConfigNode> out;
  out.reserve(v_->seq.size());
  for (size_t i = 0; i < v_->seq.size(); ++i) {
    const Value* item = v_->seq[i];
    out.push_back(
        ConfigNode(doc_, item, path_ + "[" + std::to_string(i) + "]", item->line, item->column));
  }
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  if (!is_map()) fail("expected a map");
  std::vector<std::string> out;
  for (const auto& e : v_->map) {
    e.used = true;
    out.push_back(e.key);
  }
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  if (!is_map()) fail("expected a map");
  std::vector<std::pair<std::string, ConfigNode>> out;
  for (const auto& e : v_->map) {
    e.used = true;
    out.emplace_back(e.key, ConfigNode(doc_, e.value, path_.empty() ? e.key : path_ + "." + e.key,
                                       e.line, e.column));
  }
  return out;
}

void ConfigNode::finish() const {
  if (!is_map()) return;
  for (const auto& e : v_->map)
    if (!e.used)
      throw ConfigError(doc_->file, e.line, e.column, path_.empty() ? e.key : path_ + "." + e.key,
                        "unknown key");
}

// ---- scalars --------------------------------------------------------------------------------

std::string interpolate_env(const std::string& text, std::string* missing_var, std::string* error) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t end = text.find('}', i + 2);
      if (end == std::string::npos) {
        if (error != nullptr && error->empty())
          *error = "unterminated '${' (write ${NAME} or ${NAME:-default})";
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
      if (expr.empty() && error != nullptr && error->empty())
        *error = "empty variable name in '${}'";
      const char* v = expr.empty() ? nullptr : std::getenv(expr.c_str());
      if (v != nullptr && *v != '\0') {
        out += v;
      } else if (has_def) {
        out += def;
      } else if (missing_var != nullptr && missing_var->empty() && !expr.empty()) {
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
  if (is_null()) fail("a value is required");
  if (!is_scalar()) fail("expected a single value, not a list or map");
  std::string missing, error;
  std::string v = interpolate_env(v_->scalar, &missing, &error);
  if (!error.empty()) fail(error);
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

std::string ConfigNode::read_file(size_t max_bytes) const {
  std::string out, error;
  if (!read_regular_file(as_path(), max_bytes, out, error)) fail(error);
  return out;
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
