// End to end: hostile bytes from a server, a model or a database through every command and format
// of the real `wobble` binary (util/text_policy.h), what `show` and `runs` print, credentials in a
// base URL, and an oversized response header.
#include <gtest/gtest.h>

#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "store/store.h"
#include "support/process.h"
#include "support/text_checks.h"
#include "util/utf8.h"

using namespace wobble;
using wobble::testing::kHostile;
using wobble::testing::read_text_file;
using wobble::testing::run_process;
using wobble::testing::terminal_problem;
using wobble::testing::write_text_file;
using wobble::testing::xml_problem;

namespace {

std::string exe() { return WOBBLE_EXE; }

// A database holding two runs of a suite whose names, outputs, errors and reasons are hostile.
// Run A: 4 of 5 planned samples stored, one a provider failure; criterion "k" passes on repeat 0
// and fails on repeat 1 (unstable), "j" always passes.
struct HostileDb {
  std::string path;
  int64_t a = 0, b = 0;
  std::string suite = "suite " + kHostile;
};

HostileDb make_hostile_db(const std::string& dir) {
  HostileDb h;
  h.path = dir + "/hostile.db";
  Store store = Store::open(h.path);
  for (int which = 0; which < 2; ++which) {
    RunRecord run;
    run.suite_name = h.suite;
    run.suite_path = dir + "/s.yaml";
    run.suite_hash = "abc";
    run.plan.suite.name = h.suite;
    for (const char* id : {"case ", "plain"}) {
      Case c;
      c.id = std::string(id) == "plain" ? "plain" : "case " + kHostile;
      c.repeats = 3;
      run.plan.suite.cases.push_back(c);
    }
    Variant v;
    v.id = "v\xFF";
    v.prompt = "p";
    run.plan.suite.variants.push_back(v);
    run.plan.suite.repeats = 3;
    run.provider = {{"kind", "openai"}};
    run.model_id = "model " + kHostile;
    run.sampling = {{"temperature", 1.0}};
    run.repeats = 2;
    run.tool_version = "test";
    run.started_at = which ? "2026-01-02T00:00:00Z" : "2026-01-01T00:00:00Z";
    run.status = "complete";
    run.expected_samples = 5;
    int64_t id = store.create_run(run);
    (which ? h.b : h.a) = id;
    std::vector<SampleRecord> batch;
    for (int r = 0; r < 4; ++r) {
      SampleRecord s;
      s.run_id = id;
      s.case_id = r < 3 ? "case " + kHostile : "plain";
      s.variant_id = "v\xFF";
      s.repeat = r < 3 ? r : 0;
      s.prompt = "prompt " + kHostile;
      s.ok = r != 2;
      s.output = s.ok ? "output " + std::to_string(r) + " " + kHostile : "";
      s.error = s.ok ? "" : "HTTP 500: " + kHostile;
      s.finish_reason = "stop";
      s.prompt_tokens = 9;
      s.completion_tokens = 3;
      s.latency_s = 0.5;
      s.model_reported = "reported " + kHostile;
      s.logprobs = {{"tok\xC3", -0.25, {{"alt\x1b", -1.0}}}, {"x", -1.25, {}}};
      s.seed = 100 + r;
      Attempt at;
      at.index = 1;
      at.http_status = s.ok ? 200 : 500;
      at.outcome = s.ok ? "ok" : "http_error";
      at.error = s.error;
      s.attempts = {at};
      if (s.ok) {
        CriterionResult k, j;
        k.criterion_id = "k " + kHostile;
        k.outcome = (r == 1 && which == 0) ? Outcome::kFail : Outcome::kPass;
        k.score = k.outcome == Outcome::kPass ? 1 : 0;
        k.reason = "reason " + kHostile;
        k.evidence = {0, 6, "output"};
        j.criterion_id = "j";
        j.outcome = Outcome::kPass;
        j.score = 1;
        s.scores = {k, j};
      }
      batch.push_back(s);
    }
    store.insert_samples(batch);
  }
  return h;
}

void expect_terminal_safe(const wobble::testing::ProcessResult& r, const std::string& what) {
  EXPECT_EQ(terminal_problem(r.out), "") << what << " stdout:\n" << r.out;
  EXPECT_EQ(terminal_problem(r.err), "") << what << " stderr:\n" << r.err;
}

}  // namespace

TEST(TextOutput, HostileStoredTextThroughEveryCommandAndFormat) {
  std::string dir = wobble::testing::make_temp_dir("text-hostile");
  HostileDb h = make_hostile_db(dir);
  std::string a = std::to_string(h.a), b = std::to_string(h.b);

  auto json = run_process({exe(), "report", a, "--db", h.path, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json rep = nlohmann::json::parse(json.out);
  EXPECT_EQ(rep["run"]["suite"], valid_utf8(h.suite));
  EXPECT_EQ(terminal_problem(json.out), "");

  auto junit = run_process({exe(), "report", a, "--db", h.path, "--format", "junit"});
  ASSERT_EQ(junit.exit_code, 0) << junit.err;
  EXPECT_EQ(xml_problem(junit.out), "") << junit.out;

  for (const char* fmt : {"md", "summary", "html"}) {
    auto r = run_process({exe(), "report", a, "--db", h.path, "--format", fmt});
    EXPECT_EQ(r.exit_code, 0) << fmt << r.err;
    expect_terminal_safe(r, std::string("report --format ") + fmt);
    EXPECT_NE(r.out.find("\\x1b[2J"), std::string::npos) << fmt << ": the escape is shown, not dropped";
  }

  auto show = run_process({exe(), "show", a, "--db", h.path});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  expect_terminal_safe(show, "show");
  EXPECT_NE(show.out.find("\\u202eevil"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("provider failure: HTTP 500: A\\x1b[2J"), std::string::npos) << show.out;

  auto show_json = run_process({exe(), "show", a, "--db", h.path, "--json", "--case", "plain"});
  ASSERT_EQ(show_json.exit_code, 0) << show_json.err;
  nlohmann::json sj = nlohmann::json::parse(show_json.out);
  ASSERT_EQ(sj.size(), 1u);
  EXPECT_EQ(sj[0]["case"], "plain");
  EXPECT_EQ(sj[0]["output"], valid_utf8("output 3 " + kHostile));
  EXPECT_EQ(terminal_problem(show_json.out), "");

  auto gate = run_process({exe(), "gate", a, "--db", h.path, "--max-unstable", "0"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out << gate.err;
  expect_terminal_safe(gate, "gate");
  auto gate_json = run_process({exe(), "gate", a, "--db", h.path, "--max-unstable", "0", "--json"});
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(gate_json.out); (void)parsed; }) << gate_json.out;

  auto cmp = run_process({exe(), "compare", a, b, "--db", h.path});
  EXPECT_EQ(cmp.exit_code, 0) << cmp.err;
  expect_terminal_safe(cmp, "compare");
  auto cmp_json = run_process({exe(), "compare", a, b, "--db", h.path, "--format", "json"});
  EXPECT_EQ(cmp_json.exit_code, 0) << cmp_json.err;
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(cmp_json.out); (void)parsed; }) << cmp_json.out;

  auto trend = run_process({exe(), "trend", "--suite", h.suite, "--db", h.path});
  EXPECT_EQ(trend.exit_code, 0) << trend.err;
  expect_terminal_safe(trend, "trend");
  auto trend_json = run_process({exe(), "trend", "--suite", h.suite, "--db", h.path, "--format", "json"});
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(trend_json.out); (void)parsed; }) << trend_json.out;

  auto runs = run_process({exe(), "runs", "--db", h.path});
  EXPECT_EQ(runs.exit_code, 0) << runs.err;
  expect_terminal_safe(runs, "runs");
  auto runs_json = run_process({exe(), "runs", "--db", h.path, "--json"});
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(runs_json.out); (void)parsed; }) << runs_json.out;

  // An unknown case is an error naming it (through the terminal rule too).
  auto unknown = run_process({exe(), "show", a, "--db", h.path, "--case", "nope\x1b[2J"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("no case 'nope\\x1b[2J'"), std::string::npos) << unknown.err;
  expect_terminal_safe(unknown, "show --case unknown");

  // The database still holds the exact bytes.
  Store store = Store::open(h.path);
  auto samples = store.samples(h.a);
  ASSERT_EQ(samples.size(), 4u);
  bool found = false;
  for (const auto& s : samples) found |= s.error == "HTTP 500: " + kHostile;
  EXPECT_TRUE(found);
}

TEST(TextOutput, RunsListsSamplesFailuresPassRateAndUnstable) {
  std::string dir = wobble::testing::make_temp_dir("text-runs");
  HostileDb h = make_hostile_db(dir);
  auto r = run_process({exe(), "runs", "--db", h.path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json runs = nlohmann::json::parse(r.out);
  ASSERT_EQ(runs.size(), 2u);
  // Newest first: B then A. A: 4 stored of 5, 1 failure; k fails once in case 1 (unstable).
  const auto& a = runs[1];
  EXPECT_EQ(a["id"], h.a);
  EXPECT_EQ(a["samples"], 4);
  EXPECT_EQ(a["expected_samples"], 5);
  EXPECT_EQ(a["failed_samples"], 1);
  EXPECT_EQ(a["unstable"], 1);
  EXPECT_EQ(a["scored"], 6);  // 3 ok samples x 2 criteria
  EXPECT_EQ(a["passes"], 5);
  EXPECT_DOUBLE_EQ(a["pass_rate"].get<double>(), 5.0 / 6.0);
  EXPECT_EQ(runs[0]["unstable"], 0);
  // The same figures as the report's summary.
  auto rep = run_process({exe(), "report", std::to_string(h.a), "--db", h.path, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  nlohmann::json sum = nlohmann::json::parse(rep.out)["summary"];
  EXPECT_EQ(a["unstable"], sum["unstable"]);
  EXPECT_EQ(a["failed_samples"], sum["failed_samples"]);
  EXPECT_EQ(a["pass_rate"], sum["pass_rate"]);

  auto text = run_process({exe(), "runs", "--db", h.path});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("SAMPLES"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("FAILED"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("UNSTABLE"), std::string::npos) << text.out;
  // Run A's row: id, suite (escaped), status, 4/5 samples, 1 failure, pass rate 0.83, 1 unstable.
  std::string row;
  for (size_t p = 0, q; p < text.out.size(); p = q + 1) {
    q = text.out.find('\n', p);
    if (q == std::string::npos) q = text.out.size();
    std::string line = text.out.substr(p, q - p);
    if (line.rfind(std::to_string(h.a) + " ", 0) == 0) row = line;
  }
  ASSERT_FALSE(row.empty()) << text.out;
  EXPECT_NE(row.find("4/5"), std::string::npos) << row;
  EXPECT_NE(row.find(" 1 "), std::string::npos) << row;
  EXPECT_NE(row.find("0.83"), std::string::npos) << row;
  EXPECT_NE(row.find("suite A\\x1b[2J\\x1b]0;p… complete"), std::string::npos) << row;

  // --id-only stays a plain list of ids.
  auto ids = run_process({exe(), "runs", "--db", h.path, "--id-only"});
  EXPECT_EQ(ids.out, std::to_string(h.b) + "\n" + std::to_string(h.a) + "\n");
}

TEST(TextOutput, ShowPrintsEveryStoredFactOfASample) {
  std::string dir = wobble::testing::make_temp_dir("text-show");
  HostileDb h = make_hostile_db(dir);
  auto r = run_process({exe(), "show", std::to_string(h.a), "--db", h.path, "--case", "plain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& t = r.out;
  EXPECT_NE(t.find("  prompt:\n    prompt A\\x1b[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("  output:\n    output 3 A\\x1b[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("finish: stop"), std::string::npos) << t;
  EXPECT_NE(t.find("tokens: 9 prompt, 3 completion"), std::string::npos) << t;
  EXPECT_NE(t.find("latency: 0.500 s"), std::string::npos) << t;
  EXPECT_NE(t.find("pass      k A\\x1b[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("@0-6  evidence \"output\""), std::string::npos) << t;
  EXPECT_NE(t.find("— reason A\\x1b[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("#1 ok            HTTP 200  0.000 s"), std::string::npos) << t;
  // Text as text: the Markdown escaper is not used (no &lt; / \| / ⏎).
  EXPECT_EQ(t.find("⏎"), std::string::npos) << t;

  // The reported model id and the logprobs round-trip through the store and are shown.
  auto js = run_process({exe(), "show", std::to_string(h.a), "--db", h.path, "--case", "plain", "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  nlohmann::json j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j[0]["logprobs"]["tokens"].size(), 2u);
  EXPECT_EQ(j[0]["model_reported"], valid_utf8("reported " + kHostile));
  EXPECT_NE(t.find("model: reported A\\x1b[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("logprobs: 2 tokens, mean -0.750, min -1.250 at token 1 \"x\""), std::string::npos) << t;
  auto per = run_process({exe(), "show", std::to_string(h.a), "--db", h.path, "--case", "plain", "--logprobs"});
  EXPECT_NE(per.out.find("\"tok\xEF\xBF\xBD\"   top: \"alt\\x1b\" -1.000"), std::string::npos) << per.out;
}

namespace {

// A loopback server whose replies are chosen by the prompt: an error body cut inside a character,
// an error body of hostile bytes, a 200 KB response header, or a normal completion.
class EdgeServer {
 public:
  EdgeServer() {
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"m"}]})", "application/json");
    });
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        auth_ += req.get_header_value("Authorization") + "\n";
      }
      std::string body = req.body;
      if (body.find("CUT") != std::string::npos) {
        res.status = 400;
        res.set_content(std::string(199, 'x') + "\xE2\x82\xAC and more", "text/plain");
      } else if (body.find("HOSTILE") != std::string::npos) {
        res.status = 400;
        res.set_content(kHostile, "text/plain");
      } else if (body.find("MANYHEAD") != std::string::npos) {
        for (int i = 0; i < 6; ++i) res.set_header("X-Many-" + std::to_string(i), std::string(50 * 1024, 'b'));
        res.set_content(reply("fine"), "application/json");
      } else if (body.find("BIGHEAD") != std::string::npos) {
        res.set_header("X-Big", std::string(200 * 1024, 'a'));
        res.set_content(reply("fine"), "application/json");
      } else {
        res.set_content(reply("fine \\u001b[2J \\u202e done"), "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ~EdgeServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string authorizations() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_;
  }

 private:
  static std::string reply(const std::string& escaped_text) {
    return R"({"id":"x","object":"chat.completion","model":"m-reported","choices":[{"index":0,"finish_reason":"stop",)"
           R"("message":{"role":"assistant","content":")" +
           escaped_text + R"("}}],"usage":{"prompt_tokens":3,"completion_tokens":2}})";
  }
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::string auth_;
};

std::string edge_suite(const std::string& dir, const std::string& base_url, const std::vector<std::string>& cases) {
  std::string y = "name: edge\nprovider:\n  kind: openai\n  base_url: " + base_url +
                  "\n  model: m\n  timeout: 10\n  max_concurrency: 1\n  max_attempts: 1\n"
                  "sampling: {temperature: 0, max_tokens: 8, seed: 1}\nrepeats: 1\n"
                  "variants:\n  - id: v\n    prompt: \"{{q}}\"\ncases:\n";
  for (const auto& c : cases)
    y += "  - id: " + c + "\n    vars: {q: " + c + "}\n    rubric:\n      - {id: k, scorer: regex, args: {pattern: fine}}\n";
  std::string path = dir + "/edge.yaml";
  write_text_file(path, y);
  return path;
}

}  // namespace

TEST(TextOutput, ServerErrorBodiesAreCutOnCharactersAndPrintSafely) {
  EdgeServer server;
  std::string dir = wobble::testing::make_temp_dir("text-edge");
  std::string base = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  std::string suite = edge_suite(dir, base, {"FINE1", "CUT", "FINE2", "HOSTILE", "FINE3", "BIGHEAD", "FINE4", "MANYHEAD", "FINE5"});
  std::string db = dir + "/edge.db";
  auto run = run_process({exe(), "run", suite, "--db", db, "--json", "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  int64_t id = nlohmann::json::parse(run.out)["run_id"];

  Store store = Store::open(db);
  std::map<std::string, SampleRecord> by;
  for (auto& s : store.samples(id)) by[s.case_id] = s;
  ASSERT_EQ(by.size(), 9u);
  // substr(0, 200) used to keep the first byte of the euro sign.
  ASSERT_FALSE(by["CUT"].ok);
  EXPECT_EQ(by["CUT"].error, "HTTP 400: " + std::string(199, 'x'));
  // Stored as received: the database keeps the exact bytes.
  ASSERT_FALSE(by["HOSTILE"].ok);
  EXPECT_EQ(by["HOSTILE"].error, "HTTP 400: " + kHostile);
  // A 200 KB header is named as such, not "Out of memory".
  ASSERT_FALSE(by["BIGHEAD"].ok);
  ASSERT_EQ(by["BIGHEAD"].attempts.size(), 1u);
  EXPECT_NE(by["BIGHEAD"].error.find("response header line is longer than curl's limit of 100 KiB"), std::string::npos)
      << by["BIGHEAD"].error;
  // Many header lines: wobble's own cap on all headers.
  ASSERT_FALSE(by["MANYHEAD"].ok);
  EXPECT_EQ(by["MANYHEAD"].error, "response headers larger than 256 KiB in all");
  EXPECT_EQ(by["MANYHEAD"].attempts.at(0).outcome, "bad_response");
  EXPECT_TRUE(by["FINE1"].ok);
  EXPECT_EQ(by["FINE1"].output, "fine \x1b[2J \xE2\x80\xAE done");

  std::string sid = std::to_string(id);
  auto json = run_process({exe(), "report", sid, "--db", db, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(json.out); (void)parsed; });
  auto junit = run_process({exe(), "report", sid, "--db", db, "--format", "junit"});
  EXPECT_EQ(xml_problem(junit.out), "") << junit.out;
  for (const char* fmt : {"md", "summary", "html"}) {
    auto r = run_process({exe(), "report", sid, "--db", db, "--format", fmt});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expect_terminal_safe(r, fmt);
  }
  auto show = run_process({exe(), "show", sid, "--db", db});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  expect_terminal_safe(show, "show");
  EXPECT_NE(show.out.find("HTTP 400: A\\x1b[2J\\x1b]0;pwned\\x07"), std::string::npos) << show.out;
  auto show_json = run_process({exe(), "show", sid, "--db", db, "--json"});
  ASSERT_EQ(show_json.exit_code, 0) << show_json.err;
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(show_json.out); (void)parsed; });
  auto runs = run_process({exe(), "runs", "--db", db});
  expect_terminal_safe(runs, "runs");
}

TEST(TextOutput, CredentialsInTheBaseUrlAreNeverStoredPrintedOrSent) {
  EdgeServer server;
  std::string dir = wobble::testing::make_temp_dir("text-userinfo");
  const std::string secret = "sk-INURL-SECRET-9931";
  std::string base = "http://alice:" + secret + "@127.0.0.1:" + std::to_string(server.port()) + "/v1";
  std::string suite = edge_suite(dir, base, {"FINE1", "FINE2"});
  std::string db = dir + "/u.db";
  auto run = run_process({exe(), "run", suite, "--db", db, "--json", "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("credentials in the URL were removed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("api_key_env"), std::string::npos) << run.err;
  std::string sid = std::to_string(nlohmann::json::parse(run.out)["run_id"].get<int64_t>());
  // Not sent either: no Basic authorization from the URL.
  EXPECT_EQ(server.authorizations().find("Basic"), std::string::npos) << server.authorizations();

  std::string all = run.out + run.err + read_text_file(db) + read_text_file(db + "-wal");
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"runs"}, {"runs", "--json"}, {"show", sid}, {"show", sid, "--json"},
        {"report", sid, "--format", "json"}, {"report", sid, "--format", "md"}, {"report", sid, "--format", "html"},
        {"report", sid, "--format", "junit"}, {"report", sid, "--format", "summary"}}) {
    std::vector<std::string> argv = {exe()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.insert(argv.end(), {"--db", db});
    auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << r.err;
    all += r.out + r.err;
  }
  EXPECT_EQ(all.find(secret), std::string::npos);
  EXPECT_EQ(all.find("alice:"), std::string::npos);
  // The model id still names the endpoint, without the userinfo.
  EXPECT_NE(all.find("127.0.0.1:" + std::to_string(server.port()) + "/v1"), std::string::npos);
}
