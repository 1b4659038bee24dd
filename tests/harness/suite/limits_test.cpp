// Limits that count bytes (issue 12 §3): the bounded reader on devices, FIFOs and large files, the
// YAML nesting and expanded-size limits, and the size of a stored extracted answer.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "scorer/scorer.h"
#include "suite/suite.h"
#include "suite/yaml_limits.h"
#include "suite/yaml_node.h"
#include "support/scratch.h"
#include "util/bounded_read.h"
#include "util/error.h"

using namespace wobble;
using testsupport::scratch_path;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The ConfigError message of `f()`, or "" when it did not throw one.
template <typename F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const std::string kMinimalSuite =
    "name: s\nvariants: [{id: v, prompt: p}]\ncases:\n  - id: c\n"
    "    rubric: {criteria: [{id: k, scorer: contains, args: {value: a}}]}\n";

}  // namespace

TEST(BoundedRead, ReadsAFileUpToTheLimitAndRefusesOneByteMore) {
  std::string path = scratch_path("exact.txt");
  write_file(path, std::string(1000, 'x'));
  EXPECT_EQ(read_file_bounded(path, 1000).size(), 1000u);
  std::string msg = config_error([&] { read_file_bounded(path, 999); });
  EXPECT_TRUE(contains(msg, path + ": file is larger than the 999 bytes limit")) << msg;
  EXPECT_TRUE(contains(config_error([&] { read_file_bounded(scratch_path("absent.txt")); }), "cannot open file"));
  EXPECT_TRUE(contains(config_error([&] { read_file_bounded(testsupport::scratch_dir().string()); }), "directory"));
  EXPECT_EQ(describe_byte_limit(16u << 20), "16 MiB");
}

TEST(BoundedRead, DevZeroIsRefusedAtTheLimitNotReadForever) {
  // st_size is 0 for a character device; only counting bytes read stops this.
  std::string msg = config_error([] { read_file_bounded("/dev/zero"); });
  EXPECT_TRUE(contains(msg, "/dev/zero: file is larger than the 16 MiB limit")) << msg;
  msg = config_error([] { load_suite("/dev/zero"); });
  EXPECT_TRUE(contains(msg, "/dev/zero: file is larger than the 16 MiB limit")) << msg;
}

TEST(BoundedRead, FifoWithEndlessWriterIsRefusedAndWithoutWriterReadsEmpty) {
  std::string fifo = scratch_path("suite.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Without a writer the reader must not block: it reads nothing.
  EXPECT_TRUE(contains(config_error([&] { load_suite(fifo); }), "suite file is empty"));

  // An endless writer. Opened read-write (which does not wait for a reader) before the reader
  // starts, so the reader cannot see "no writer yet"; non-blocking so the writer can stop.
  int wfd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(wfd, 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::string chunk(65536, 'a');
    while (!stop.load()) {
      if (::write(wfd, chunk.data(), chunk.size()) < 0) std::this_thread::yield();
    }
  });
  std::string msg = config_error([&] { read_file_bounded(fifo, 1 << 20); });
  std::string suite_msg = config_error([&] { load_suite(fifo); });
  stop = true;
  writer.join();
  ::close(wfd);
  EXPECT_TRUE(contains(msg, fifo + ": file is larger than the 1 MiB limit")) << msg;
  EXPECT_TRUE(contains(suite_msg, fifo + ": file is larger than the 16 MiB limit")) << suite_msg;
}

TEST(YamlLimits, DeepFlowNestingIsRefusedWithItsLine) {
  std::string text = "name: x\nvariants:\n  - " + std::string(65, '[') + "\n";
  std::string msg = config_error([&] { check_yaml_nesting("d.yaml", text); });
  EXPECT_TRUE(contains(msg, "d.yaml:3: nested too deeply at line 3")) << msg;
  // A file of nothing but '[' (what took 3.7 GB in yaml-cpp) is refused by the scan.
  std::string path = scratch_path("brackets.yaml");
  write_file(path, std::string(16u << 20, '['));
  msg = config_error([&] { load_suite(path); });
  EXPECT_TRUE(contains(msg, "nested too deeply at line 1")) << msg;
  // JSON nests with the same brackets.
  EXPECT_TRUE(contains(config_error([&] { check_yaml_nesting("j.json", std::string(200, '{') + "\"a\": 1"); }),
                       "nested too deeply"));
}

TEST(YamlLimits, DeepBlockNestingIsRefusedWithItsLine) {
  std::string text = "a:\n";
  for (int i = 1; i <= 70; ++i) text += std::string(size_t(2 * i), ' ') + "k" + std::to_string(i) + ":\n";
  std::string msg = config_error([&] { check_yaml_nesting("b.yaml", text); });
  EXPECT_TRUE(contains(msg, "nested too deeply at line")) << msg;
  std::string dashes;
  for (int i = 0; i < 100; ++i) dashes += "- ";
  msg = config_error([&] { check_yaml_nesting("c.yaml", "x: 1\n" + dashes + "a\n"); });
  EXPECT_TRUE(contains(msg, "c.yaml:2: nested too deeply at line 2")) << msg;
}

TEST(YamlLimits, BracketsInTextAreNotNesting) {
  std::string deep(100, '[');
  // Inside quotes, block scalars, comments and plain scalars, brackets are text.
  std::string text = "a: \"" + deep + "\"\nb: '" + deep + "'\nc: |\n  " + deep + "\n  more " + deep +
                     "\nd: >-\n   " + deep + "\ne: x" + deep + "\n# " + deep + "\nf: 1 # " + deep +
                     "\ng: [\"" + deep + "\", '" + deep + "']\nh: \"multi\n  line " + deep + "\"\n";
  EXPECT_NO_THROW(check_yaml_nesting("t.yaml", text));
  EXPECT_NO_THROW(YamlNode::load_text("t.yaml", text));
  // Nesting just under the limit loads.
  std::string ok = std::string(size_t(kMaxYamlDepth - 1), '[') + std::string(size_t(kMaxYamlDepth - 1), ']');
  EXPECT_NO_THROW(YamlNode::load_text("ok.yaml", ok));
}

TEST(YamlLimits, AnchoredMegabyteStringTimesThreeThousandAliasesIsRefused) {
  // 1.1 MB on disk, 3 GB once the aliases are expanded (what main accepted, at > 3 GB RSS).
  std::string text = "name: amp\nvariants:\n  - id: v\n    prompt: &big \"" + std::string(1u << 20, 'x') +
                     "\"\ncases:\n  - id: c\n    rubric: {criteria: [{id: k, scorer: contains, args: {value: a}}]}\n"
                     "    vars:\n";
  for (int i = 0; i < 2999; ++i) text += "      v" + std::to_string(i) + ": *big\n";
  std::string path = scratch_path("alias-amp.yaml");
  write_file(path, text);
  std::string msg = config_error([&] { load_suite(path); });
  // The string itself, 63 aliases of it and the keys cross 64 MiB at alias v62, on line 9 + 62.
  EXPECT_TRUE(contains(msg, path + ":71: document expands to more than 64 MiB of text through aliases")) << msg;
  // A handful of aliases of the same string is fine.
  std::string few = text.substr(0, text.find("      v3:"));
  write_file(path, few);
  EXPECT_NO_THROW(load_suite(path));
}

TEST(YamlLimits, ManyEmptyCollectionsCountAsNodes) {
  std::string text = "[";
  for (int i = 0; i < 1'100'000; ++i) text += "[],";
  text += "]";
  std::string msg = config_error([&] { YamlNode::load_text("wide.yaml", text); });
  EXPECT_TRUE(contains(msg, "wide.yaml:1: more than 1000000 entries in flow collections")) << msg;
  // Just under the limit the scan lets it through and the node counter (which counts empty
  // collections as nodes) still refuses a document of a million nodes.
  std::string nodes = "[";
  for (int i = 0; i < 400'000; ++i) nodes += "a: [],";  // 800,001 flow entries, 1.2 million nodes
  nodes += "]";
  msg = config_error([&] { YamlNode::load_text("nodes.yaml", nodes); });
  EXPECT_TRUE(contains(msg, "more than 1000000 nodes")) << msg;
}

TEST(ProviderSpec, MaxOutputBytesIsParsedCheckedAndSnapshotted) {
  std::string path = scratch_path("cap.yaml");
  write_file(path, "provider: {kind: openai, base_url: 'http://x/v1', model: m, max_output_bytes: 4096}\n" + kMinimalSuite);
  Suite s = load_suite(path);
  EXPECT_EQ(s.provider.max_output_bytes, 4096);
  EXPECT_EQ(suite_to_json(s)["provider"]["max_output_bytes"], 4096);
  // The stored run plan gives it back on resume; a plan from before the cap means no cap (16 MiB).
  EXPECT_EQ(ProviderSpec::from_json(s.provider.to_json()).max_output_bytes, 4096);
  nlohmann::json old = s.provider.to_json();
  old.erase("max_output_bytes");
  EXPECT_EQ(ProviderSpec::from_json(old).max_output_bytes, 16 << 20);
  write_file(path, kMinimalSuite);
  EXPECT_EQ(load_suite(path).provider.max_output_bytes, 1 << 20);
  write_file(path, "provider: {max_output_bytes: 0}\n" + kMinimalSuite);
  EXPECT_TRUE(contains(config_error([&] { load_suite(path); }), "provider.max_output_bytes: must be between 1 and"));
}

TEST(AnswerExtractor, FirstLineOfALongOutputIsStoredAsASpanNotTheOutputAgain) {
  Case c;
  c.id = "c";
  c.rubric.answer_extractor = ExtractorSpec{"first-line", nlohmann::json::object()};
  std::string output(100000, 'a');  // one line: first-line is the whole output
  auto stored = extract_answer(c, output);
  ASSERT_TRUE(stored);
  EXPECT_LT(stored->size(), 400u);
  EXPECT_TRUE(contains(*stored, "[answer of 100000 bytes, sha256 ")) << *stored;
  // The scorers still see the whole answer.
  EXPECT_EQ(extract_answer_full(c, output)->size(), output.size());
  // Equal answers stay equal, different ones differ (TARa compares stored answers).
  std::string other = output;
  other[99999] = 'b';
  EXPECT_EQ(*extract_answer(c, output), *stored);
  EXPECT_NE(*extract_answer(c, other), *stored);
  // Short answers are stored exactly, and only the first line is kept.
  EXPECT_EQ(*extract_answer(c, "\n  42 \nmore text\n"), "42");
  c.rubric.answer_extractor = ExtractorSpec{"last-line", nlohmann::json::object()};
  EXPECT_EQ(*extract_answer(c, "a\nb\n\n c \n\n"), "c");
  // The other extractors are bounded the same way.
  c.rubric.answer_extractor = ExtractorSpec{"regex", {{"pattern", "(.*)"}}};
  EXPECT_LT(extract_answer(c, output)->size(), 400u);
  c.rubric.answer_extractor = ExtractorSpec{"json-path", {{"path", "$.a"}}};
  EXPECT_LT(extract_answer(c, "{\"a\": \"" + output + "\"}")->size(), 400u);
}

TEST(HostileFiles, TextThatIsNotUtf8IsAConfigErrorAtItsLine) {
  // Found by fuzz_suite: an invalid byte inside a json-schema type reached nlohmann's dump() in the
  // schema check and escaped as json type_error 316 (exit 3, and a crash in the fuzzer).
  std::string path = scratch_path("bad-utf8.yaml");
  write_file(path, kMinimalSuite + "rubric:\n  criteria:\n    - id: s\n      scorer: json-schema\n"
                                   "      args: {schema: {type: \"obj\x9C\"}}\n");
  std::string msg = config_error([&] { load_suite(path); });
  // The file is refused before parsing (util/text_policy.h), at the line and column of the byte.
  EXPECT_TRUE(contains(msg, path + ":10: not valid UTF-8 (byte 0x9C at column 33)")) << msg;
  // An escape for a lone surrogate would make the same kind of bytes; yaml-cpp refuses it itself.
  write_file(path, kMinimalSuite + "description: \"a\\uD800b\"\n");
  msg = config_error([&] { load_suite(path); });
  EXPECT_TRUE(contains(msg, path + ":6: ")) << msg;
  // Well-formed non-ASCII text loads.
  write_file(path, kMinimalSuite + "description: \"h\xC3\xA9llo \\u00e9 \xF0\x9F\x98\x80\"\n");
  EXPECT_NO_THROW(load_suite(path));
}

TEST(HostileFiles, CommaWhereABlockNodeStartsIsASyntaxErrorNotAHang) {
  // Found by fuzz_suite (reduced): yaml-cpp 0.7 reports empty documents at the ',' forever; on main
  // `wobble run` on this file never returned.
  std::string path = scratch_path("comma.yaml");
  write_file(path, "# a rubric\n,   description: x\n    scorer: regex\n");
  std::string msg = config_error([&] { load_suite(path); });
  EXPECT_TRUE(contains(msg, path + ":2: syntax error: unexpected character at column 1")) << msg;
  write_file(path, kMinimalSuite + ",\n");
  msg = config_error([&] { load_suite(path); });
  EXPECT_TRUE(contains(msg, path + ":6: syntax error")) << msg;
}

TEST(HostileFiles, CountScorerBoundsOutsideWholeCountsAreConfigErrors) {
  // Found by fuzz_suite: max: 1e20 overflowed a double-to-int64 conversion (UBSan), and a negative
  // max was read as "no maximum", so every output passed.
  std::string path = scratch_path("count.yaml");
  for (const char* bound : {"max: 1e20", "max: -3", "min: 1e300"}) {
    write_file(path, "name: s\nvariants: [{id: v, prompt: p}]\ncases:\n  - id: c\n"
                     "    rubric: {criteria: [{id: k, scorer: line-count, args: {" + std::string(bound) + "}}]}\n");
    std::string msg = config_error([&] { load_suite(path); });
    EXPECT_TRUE(contains(msg, "must be between 0 and 1e15")) << bound << ": " << msg;
  }
}
