#include "engine/config.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace assay::engine {
namespace {

TEST(Config, UnknownKeyIsNamedWithLocation) {
  const auto root = ConfigNode::load_string("name: x\nengine:\n  batch_size: 10\n  bach_size: 3\n", "p.yaml");
  const auto e = root.get("engine");
  EXPECT_EQ(e.get_int("batch_size", 1), 10);
  try {
    e.finish();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& err) {
    EXPECT_EQ(err.file(), "p.yaml");
    EXPECT_EQ(err.line(), 4);
    EXPECT_EQ(err.column(), 3);
    EXPECT_EQ(err.key(), "engine.bach_size");
    EXPECT_NE(std::string(err.what()).find("p.yaml:4:3: key 'engine.bach_size': unknown key"), std::string::npos)
        << err.what();
  }
}

TEST(Config, WrongTypeAndRange) {
  const auto root = ConfigNode::load_string("a: abc\nb: 5000\nc: [1, 2]\nd: maybe\n", "t.yaml");
  EXPECT_THROW(root.get("a").as_int(), ConfigError);
  try {
    root.get("b").as_int(0, 100);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 4);
    EXPECT_EQ(e.key(), "b");
  }
  EXPECT_THROW(root.get("c").as_string(), ConfigError);
  EXPECT_THROW(root.get("d").as_bool(), ConfigError);
}

TEST(Config, MissingRequiredKeyNamesTheParent) {
  const auto root = ConfigNode::load_string("input:\n  path: x\n", "m.yaml");
  try {
    root.get("input").get("type");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "input.type");
    EXPECT_EQ(e.line(), 2);
  }
}

TEST(Config, SyntaxErrorHasLocation) {
  try {
    ConfigNode::load_string("a: [1, 2\nb: 3\n", "s.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "s.yaml");
    EXPECT_GE(e.line(), 1);
    EXPECT_NE(std::string(e.what()).find("YAML syntax error"), std::string::npos);
  }
}

TEST(Config, EnvironmentInterpolation) {
  ::setenv("ASSAY_TEST_VAR", "hello", 1);
  ::unsetenv("ASSAY_TEST_UNSET");
  const auto root = ConfigNode::load_string(
      "a: ${ASSAY_TEST_VAR}-x\nb: ${ASSAY_TEST_UNSET:-dflt}\nc: ${ASSAY_TEST_UNSET}\n", "e.yaml");
  EXPECT_EQ(root.get("a").as_string(), "hello-x");
  EXPECT_EQ(root.get("b").as_string(), "dflt");
  try {
    root.get("c").as_string();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(e.message().find("ASSAY_TEST_UNSET"), std::string::npos);
  }
}

TEST(Config, PathsAreRelativeToTheFile) {
  const auto root = ConfigNode::load_string("p: data/x.asy\nabs: /tmp/y\n", "/etc/assay/pipe.yaml");
  EXPECT_EQ(root.get("p").as_path(), "/etc/assay/data/x.asy");
  EXPECT_EQ(root.get("abs").as_path(), "/tmp/y");
}


// Expects `f` to throw a ConfigError at line:column whose message contains `needle`.
template <class F>
void expect_error(F&& f, int line, int column, const std::string& needle) {
  try {
    f();
    FAIL() << "expected ConfigError containing '" << needle << "'";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.column(), column) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Config, DuplicateYamlKeysAreErrorsAtTheSecondKey) {
  // Issue 13 item 9: `revoked: false` then `revoked: true` kept the first, silently.
  expect_error([] { ConfigNode::load_string("keys:\n  - key_id: k\n    revoked: false\n    revoked: true\n", "r.yaml"); },
               4, 5, "duplicate key 'revoked' (first at line 3, column 5)");
}

TEST(Config, JsonIsParsedByAJsonParserWithLocations) {
  // Issue 12 item 6: Python's json module writes characters outside the BMP as surrogate pairs.
  const auto root = ConfigNode::load_string(
      "{\"sensors\": [{\"sensor_id\": \"s-1\", \"owner\": \"caf\\u00e9 \\ud83c\\udf21\", \"n\": 12, \"x\": 1.5e3, \"b\": true, \"z\": null}]}",
      "registry.json");
  const auto s = root.get("sensors").items().at(0);
  EXPECT_EQ(s.get("owner").as_string(), "caf\xc3\xa9 \xf0\x9f\x8c\xa1");
  EXPECT_EQ(s.get("n").as_int(), 12);
  EXPECT_DOUBLE_EQ(s.get("x").as_double(), 1500.0);
  EXPECT_TRUE(s.get("b").as_bool());
  EXPECT_TRUE(s.get("z").is_null());
  EXPECT_EQ(s.get("owner").line(), 1);
  EXPECT_EQ(s.get("owner").column(), 44);
  s.get("sensor_id");
  s.finish();
  // Multi-line JSON: values and unknown keys are located.
  const auto m = ConfigNode::load_string("{\n  \"a\": 1,\n  \"typo\": [1,\n  2]\n}\n", "m.json");
  m.get("a");
  expect_error([&] { m.finish(); }, 3, 3, "key 'typo': unknown key");
  EXPECT_EQ(m.peek("typo")->items().at(1).line(), 4);
  expect_error([] { ConfigNode::load_string("{\"a\": 1, \"a\": 2}", "d.json"); }, 1, 10,
               "duplicate key 'a'");
  expect_error([] { ConfigNode::load_string("{\"a\": 1,\n \"b\": }", "e.json"); }, 2, 7,
               "JSON syntax error");
  expect_error([] { ConfigNode::load_string("{\"a\": \"\\ud83c\"}", "s.json"); }, 1, 14,
               "JSON syntax error");
}

TEST(Config, ASecondYamlDocumentIsRefused) {
  expect_error([] { ConfigNode::load_string("name: a\n---\nname: b\n", "two.yaml"); }, 2, 1,
               "second YAML document");
  EXPECT_NO_THROW(ConfigNode::load_string("---\nname: a\n...\n", "one.yaml"));
}

TEST(Config, UnterminatedVariableIsAnError) {
  const auto root = ConfigNode::load_string("a: ${HOME\nb: '${}'\n", "v.yaml");
  expect_error([&] { root.get("a").as_string(); }, 1, 4, "unterminated '${'");
  expect_error([&] { root.get("b").as_string(); }, 2, 4, "empty variable name");
}

TEST(Config, AliasBombIsRefused) {
  std::string y = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) y += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    y += "]\n";
  }
  EXPECT_THROW(ConfigNode::load_string(y, "bomb.yaml"), ConfigError);
  // Ordinary aliases still work.
  const auto root = ConfigNode::load_string("base: &b {x: 1}\nuse: *b\n", "alias.yaml");
  EXPECT_EQ(root.get("use").get_int("x", 0), 1);
}

TEST(Config, OnlyBoundedRegularFilesAreRead) {
  // Issue 13 item 4: `secret_file: /dev/zero` (or a FIFO) hung `lint` and grew memory.
  expect_error([] { ConfigNode::load_file("/dev/zero"); }, 0, 0, "not a regular file");
  const auto dir = std::filesystem::temp_directory_path() / ("assay-cfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto fifo = (dir / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { ConfigNode::load_file(fifo); }, 0, 0, "not a regular file");
  const auto big = (dir / "big.yaml").string();
  std::ofstream(big) << "a: " << std::string(100, 'x') << "\n";
  expect_error([&] { ConfigNode::load_file(big, 50); }, 0, 0, "too large");
  EXPECT_EQ(ConfigNode::load_file(big).get("a").as_string().size(), 100u);
  std::string out, error;
  EXPECT_FALSE(read_regular_file(dir.string(), 1000, out, error));
  EXPECT_NE(error.find("directory"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace assay::engine
