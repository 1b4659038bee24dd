// A YAML syntax error is reported as one, at its line: yaml-cpp lets an unclosed quoted string run
// to the end of the file, which used to surface as "cases: is required".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "suite/suite.h"
#include "suite/yaml_node.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

std::string write_suite(const std::string& name, const std::string& text) {
  fs::path dir = fs::temp_directory_path() / ("wobble-yaml-syntax-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path p = dir / name;
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

// The ConfigError of loading `text` as a suite; fails the test when it loads.
ConfigError load_error(const std::string& name, const std::string& text) {
  std::string path = write_suite(name, text);
  try {
    load_suite(path);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << name << " loaded without error";
  return ConfigError(path, 0, "", "");
}

const std::string kRest =
    "cases:\n"
    "  - id: c\n"
    "    rubric:\n"
    "      criteria: [{id: k, scorer: contains, args: {value: a}}]\n";

}  // namespace

TEST(YamlSyntax, UnclosedDoubleQuoteIsASyntaxErrorAtItsLine) {
  auto e = load_error("dq.yaml", "name: x\nvariants:\n  - id: v\n    prompt: \"hi\n" + kRest);
  EXPECT_EQ(e.line(), 4) << e.what();
  EXPECT_NE(std::string(e.what()).find("dq.yaml:4: syntax error"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("never closed"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("is required"), std::string::npos) << e.what();
}

TEST(YamlSyntax, UnclosedSingleQuoteAndQuotedKeysToo) {
  auto e = load_error("sq.yaml", "name: x\nvariants:\n  - id: v\n    prompt: 'it''s\n" + kRest);
  EXPECT_EQ(e.line(), 4) << e.what();
  EXPECT_NE(std::string(e.what()).find("single-quoted"), std::string::npos) << e.what();
  e = load_error("key.yaml", "name: x\n\"variants: []\n" + kRest);
  EXPECT_EQ(e.line(), 2) << e.what();
  EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
  // After a byte-order mark and a tag, the line is still right.
  e = load_error("bom.yaml", "\xEF\xBB\xBFname: x\nvariants:\n  - id: v\n    prompt: !!str \"hi\n" + kRest);
  EXPECT_EQ(e.line(), 4) << e.what();
}

TEST(YamlSyntax, ClosedQuotesAndQuoteCharactersElsewhereStillLoad) {
  // Escaped and doubled quotes, a quoted scalar spanning lines, quotes inside plain and block
  // scalars and comments: none of these is an unclosed string.
  std::string path = write_suite("ok.yaml",
                                 "name: \"x \\\" y\"  # a \" in a comment\n"
                                 "description: it's plain, with a \" inside\n"
                                 "variants:\n"
                                 "  - id: v\n"
                                 "    prompt: \"line one\n"
                                 "      line two \\\\\"\n"
                                 "  - id: w\n"
                                 "    prompt: |\n"
                                 "      block with \" and ' quotes\n"
                                 "  - id: u\n"
                                 "    prompt: 'it''s'\n"
                                 "  - {id: t, prompt: \"flow\"}\n" +
                                     kRest);
  Suite s = load_suite(path);
  ASSERT_EQ(s.variants.size(), 4u);
  EXPECT_EQ(s.name, "x \" y");
  EXPECT_EQ(*s.variants[0].prompt, "line one line two \\");
  EXPECT_EQ(*s.variants[2].prompt, "it's");
}
