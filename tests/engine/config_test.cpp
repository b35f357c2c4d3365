#include "engine/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

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

}  // namespace
}  // namespace assay::engine
