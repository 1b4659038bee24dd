// The engine's commands for people, run as a user would: `wobble inspect`, `wobble generate` and
// `wobble tokenize` on the bundled demo model (skipped when it is absent), checked against the
// library they wrap, plus their usage errors and exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "moe/chat_template.h"
#include "moe/model.h"
#include "moe/routing.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "support/process.h"

using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-moe.gguf";

#define REQUIRE_DEMO_MODEL()                                                          \
  if (!fs::exists(kModel)) GTEST_SKIP() << "demo model not found at " << kModel;

std::vector<int32_t> parse_ints(const std::string& s) {
  std::vector<int32_t> v;
  std::istringstream in(s);
  for (int32_t x; in >> x;) v.push_back(x);
  return v;
}

// Greedy continuation computed through the library: what `generate --tokens` must print.
std::vector<int32_t> library_greedy(const std::vector<int32_t>& prompt, int n) {
  auto m = moe::Model::load(kModel);
  EXPECT_TRUE(m.ok());
  auto s = moe::Session::create(*m, moe::SessionOptions{0, 1, false});
  EXPECT_TRUE(s.ok());
  moe::GenerateOptions go;
  go.max_tokens = n;
  auto r = moe::generate(**s, prompt, go, nullptr);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->tokens : std::vector<int32_t>{};
}

}  // namespace

TEST(EngineCli, InspectPrintsTheModelsShape) {
  REQUIRE_DEMO_MODEL();
  auto r = run_process({WOBBLE_EXE, "inspect", kModel});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = moe::Model::load(kModel);
  ASSERT_TRUE(m.ok());
  const auto& info = (*m)->info();
  EXPECT_NE(r.out.find("architecture:  " + info.architecture), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers:        " + std::to_string(info.n_layer) + " (" + std::to_string(info.n_moe_layers) +
                       " MoE)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("experts:       " + std::to_string(info.n_expert) + ", " + std::to_string(info.n_expert_used) +
                       " per token"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("chat template: chatml"), std::string::npos) << r.out;
}

TEST(EngineCli, InspectOfABadFileNamesItAndFails) {
  const std::string dir = make_temp_dir("cli-bad");
  const std::string bad = dir + "/not-a-model.gguf";
  write_text_file(bad, "name: this is YAML, not GGUF\n");
  auto r = run_process({WOBBLE_EXE, "inspect", bad});
  EXPECT_EQ(r.exit_code, 3);  // a model that cannot be loaded is a runtime failure (README exit codes)
  EXPECT_NE(r.err.find("not-a-model.gguf"), std::string::npos) << r.err;
  auto missing = run_process({WOBBLE_EXE, "inspect", dir + "/absent.gguf"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("absent.gguf"), std::string::npos) << missing.err;
}

TEST(EngineCli, GenerateFromTokenIdsEqualsTheLibraryAtAnyThreadCount) {
  REQUIRE_DEMO_MODEL();
  // A prompt that does not end the turn at once, so several tokens are generated.
  auto m = moe::Model::load(kModel);
  ASSERT_TRUE(m.ok());
  auto enc = (*m)->tokenizer().encode("def add(a, b):", moe::EncodeOptions{false, false});
  ASSERT_TRUE(enc.ok());
  std::string ids;
  for (int32_t t : *enc) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  const std::vector<int32_t> want = library_greedy(*enc, 12);
  ASSERT_GT(want.size(), 3u);
  for (const char* threads : {"1", "2"}) {
    auto r = run_process({WOBBLE_EXE, "generate", "-m", kModel, "--tokens", ids, "-n", "12", "--threads", threads});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parse_ints(r.out), want) << "threads " << threads;
    // The speed line names both phases and the token counts it measured.
    std::smatch sm;
    ASSERT_TRUE(std::regex_search(r.err, sm, std::regex(R"(prompt: (\d+) tokens, [0-9.]+ t/s \| decode: (\d+) tokens)")))
        << r.err;
    EXPECT_EQ(std::stoul(sm[1]), enc->size());
    EXPECT_EQ(std::stoul(sm[2]), want.size());
  }
}

TEST(EngineCli, GenerateWritesARoutingTraceOfEveryProcessedToken) {
  REQUIRE_DEMO_MODEL();
  const std::string trace = make_temp_dir("cli-trace") + "/t.bin";
  auto r = run_process({WOBBLE_EXE, "generate", "-m", kModel, "--tokens", "5 9 13 40 77", "-n", "6", "--trace", trace});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t generated = parse_ints(r.out).size();
  auto bytes = read_text_file(trace);
  auto t = moe::RoutingTrace::deserialize(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->n_layers(), 4u);
  EXPECT_EQ(t->n_expert(), 8u);
  EXPECT_EQ(t->k(), 2u);
  // Every prompt token and every generated token that was fed back: at the length limit the last
  // printed one is not; at a stop the printed ones all were (the end-of-turn token is not printed).
  const bool stopped = r.err.find("finish: stop") != std::string::npos;
  EXPECT_EQ(t->n_tokens(), 5 + generated - (stopped ? 0 : 1)) << r.err;
  for (uint64_t i = 0; i < t->n_tokens(); ++i)
    for (uint32_t l = 0; l < t->n_layers(); ++l) {
      auto step = t->at(i, l);
      ASSERT_EQ(step.experts.size(), 2u);
      EXPECT_NE(step.experts[0], step.experts[1]);
      EXPECT_LT(step.experts[0], 8);
    }
}

TEST(EngineCli, GenerateWrapsTextInTheModelsChatTemplateByDefault) {
  REQUIRE_DEMO_MODEL();
  auto chat = run_process({WOBBLE_EXE, "generate", "-m", kModel, "-p", "What is 23 + 45?", "-n", "16"});
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  // The prompt is echoed, the answer follows on its own line; 14 prompt tokens = the ChatML turn.
  ASSERT_EQ(chat.out.rfind("What is 23 + 45?\n", 0), 0u) << chat.out;
  auto m = moe::Model::load(kModel);
  ASSERT_TRUE(m.ok());
  const auto& tok = (*m)->tokenizer();
  const std::vector<moe::ChatMessage> turn = {{"user", "What is 23 + 45?"}};
  std::string rendered = moe::render_chat(moe::ChatFamily::kChatML, turn, true,
                                          tok.bos() >= 0 ? tok.piece(tok.bos()) : "");
  auto ids = tok.encode(rendered, moe::EncodeOptions{true, true});
  ASSERT_TRUE(ids.ok());
  EXPECT_NE(chat.err.find("prompt: " + std::to_string(ids->size()) + " tokens"), std::string::npos) << chat.err;
  // Raw: the text is continued as it is.
  auto raw = run_process({WOBBLE_EXE, "generate", "-m", kModel, "-p", "def add(a, b):", "-n", "8", "--chat-template", "raw"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out.rfind("def add(a, b):", 0), 0u) << raw.out;
  auto plain = tok.encode("def add(a, b):", moe::EncodeOptions{true, false});
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(raw.err.find("prompt: " + std::to_string(plain->size()) + " tokens"), std::string::npos) << raw.err;
}

TEST(EngineCli, GenerateUsageErrorsExitTwo) {
  REQUIRE_DEMO_MODEL();
  auto both = run_process({WOBBLE_EXE, "generate", "-m", kModel, "-p", "x", "--tokens", "1"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("exactly one of -p TEXT or --tokens IDS"), std::string::npos) << both.err;
  auto temp = run_process({WOBBLE_EXE, "generate", "-m", kModel, "--tokens", "1", "--temp", "-1"});
  EXPECT_EQ(temp.exit_code, 2) << temp.err;
  auto family = run_process({WOBBLE_EXE, "generate", "-m", kModel, "-p", "x", "--chat-template", "klingon"});
  EXPECT_EQ(family.exit_code, 2);
  EXPECT_NE(family.err.find("klingon"), std::string::npos) << family.err;
  auto no_model = run_process({WOBBLE_EXE, "generate", "--tokens", "1"});
  EXPECT_EQ(no_model.exit_code, 2);
}

TEST(EngineCli, TokenizeJsonEqualsTheLibrary) {
  REQUIRE_DEMO_MODEL();
  auto m = moe::Model::load(kModel);
  ASSERT_TRUE(m.ok());
  const auto& tok = (*m)->tokenizer();
  const std::string text = "Role: math expert\nWhat is 23 + 45? <|im_start|>";
  for (bool special : {false, true}) {
    std::vector<std::string> argv = {WOBBLE_EXE, "tokenize", "-m", kModel, "--text", text, "--json", "--no-bos"};
    if (special) argv.push_back("--parse-special");
    auto r = run_process(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    auto want = tok.encode(text, moe::EncodeOptions{false, special});
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(j["ids"].get<std::vector<int32_t>>(), *want) << "parse_special " << special;
    ASSERT_EQ(j["pieces"].size(), want->size());
    for (size_t i = 0; i < want->size(); ++i) EXPECT_EQ(j["pieces"][i].get<std::string>(), tok.piece((*want)[i]));
  }
  // With parse-special the control token is one id; without, its text is split into pieces.
  auto with = nlohmann::json::parse(
      run_process({WOBBLE_EXE, "tokenize", "-m", kModel, "--text", "<|im_start|>", "--json", "--no-bos", "--parse-special"}).out);
  EXPECT_EQ(with["ids"].size(), 1u);
}

TEST(EngineCli, TokenizeRefusesInvalidUtf8AndBadUsage) {
  REQUIRE_DEMO_MODEL();
  const std::string dir = make_temp_dir("cli-tok");
  const std::string bad = dir + "/bad.txt";
  write_text_file(bad, std::string("ok \xC3\x28 here"));
  auto r = run_process({WOBBLE_EXE, "tokenize", "-m", kModel, "--file", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not valid UTF-8 at byte 3"), std::string::npos) << r.err;
  auto neither = run_process({WOBBLE_EXE, "tokenize", "-m", kModel});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("exactly one of --text and --file"), std::string::npos) << neither.err;
  auto missing = run_process({WOBBLE_EXE, "tokenize", "-m", kModel, "--file", dir + "/absent.txt"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("absent.txt"), std::string::npos) << missing.err;
}
