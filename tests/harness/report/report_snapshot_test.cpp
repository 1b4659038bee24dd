// Markdown and JSON reports of a fixed database built here, compared against a committed snapshot
// (tests/fixtures/reports/fixed_run.md). Set WOBBLE_UPDATE_FIXTURES=1 to rewrite the snapshot after
// an intended format change, then review the diff.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include "report/report.h"
#include "store/store.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

std::string temp_db() {
  fs::path p = fs::temp_directory_path() / ("wobble-report-" + std::to_string(::getpid()) + ".db");
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p.string() + ext);
  return p.string();
}

CriterionResult result(const std::string& id, Outcome o, double score, const std::string& reason = "",
                       Evidence ev = {}) {
  CriterionResult r;
  r.criterion_id = id;
  r.outcome = o;
  r.score = score;
  r.reason = reason;
  r.evidence = ev;
  return r;
}

// Two cases; "capital" is stable across repeats, "sum" flips on one criterion and diverges.
int64_t build_fixed_run(Store& store) {
  RunRecord run;
  run.suite_name = "fixture";
  run.suite_path = "suites/fixture.yaml";
  run.suite_hash = "0123abcd";
  // Only "sum" has an answer extractor, so only it gets a TARa.
  run.plan.suite = suite_from_json({{"name", "fixture"}, {"repeats", 3},
                        {"cases", {{{"id", "capital"}}, {{"id", "sum"}, {"answer_extractor", {{"regex", "(\\d+)"}}}}}},
                        {"gate", {{"max_unstable", 0}}}});
  run.provider = {{"kind", "openai"}, {"model", "m-1"}};
  run.model_id = "m-1";
  run.sampling = {{"temperature", 0.7}};
  run.repeats = 3;
  run.tool_version = "0.1.0";
  run.started_at = "2026-01-02T03:04:05Z";
  run.status = "complete";
  run.expected_samples = 6;
  int64_t id = store.create_run(run);
  std::vector<SampleRecord> batch;
  const char* sums[] = {"The sum is 12.", "The sum is 12.", "The total is 13."};
  for (int r = 0; r < 3; ++r) {
    SampleRecord s;
    s.run_id = id;
    s.case_id = "capital";
    s.variant_id = "plain";
    s.repeat = r;
    s.prompt = "Capital of France?";
    s.ok = true;
    s.output = "Paris";
    s.finish_reason = "stop";
    s.seed = 100 + r;
    s.extracted_answer = "Paris";
    s.scores = {result("mentions", Outcome::kPass, 1, "", {0, 5, "Paris"})};
    s.attempts = {{1, 200, "ok", "", 0.1, 0}};
    batch.push_back(s);
    SampleRecord t = s;
    t.case_id = "sum";
    t.prompt = "5 + 7?";
    t.output = sums[r];
    t.extracted_answer = r == 2 ? "13" : "12";
    bool right = r != 2;
    t.scores = {result("answer", right ? Outcome::kPass : Outcome::kFail, right ? 1 : 0,
                       right ? "" : "expected 12, got 13", {11, 13, right ? "12" : "13"}),
                result("polite", Outcome::kUnscored, 0, "judge unavailable")};
    batch.push_back(t);
  }
  store.insert_samples(batch);
  return id;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

TEST(Report, MarkdownMatchesTheCommittedSnapshot) {
  std::string db = temp_db();
  std::string md;
  {
    Store store = Store::open(db);
    int64_t id = build_fixed_run(store);
    RunAnalysis a = analyze_run(store, id);
    std::ostringstream os;
    render_markdown(a, os);
    md = os.str();
  }
  fs::path fixture = fs::path(WOBBLE_SOURCE_DIR) / "tests/fixtures/reports/fixed_run.md";
  if (const char* u = std::getenv("WOBBLE_UPDATE_FIXTURES"); u && std::string(u) == "1") {
    std::ofstream(fixture, std::ios::binary) << md;
  }
  ASSERT_TRUE(fs::exists(fixture)) << "missing " << fixture;
  EXPECT_EQ(md, read_all(fixture)) << "report changed; rerun with WOBBLE_UPDATE_FIXTURES=1 if intended";
  // Independent of the snapshot: the sections the format promises are there.
  EXPECT_EQ(md.find("| Run | Score | Weighted | Failure modes | Notes |"), std::string::npos);  // --detail only
  EXPECT_NE(md.find("**1 unstable**"), std::string::npos);
  EXPECT_LT(md.find("## Verdict"), md.find("## Unstable criteria"));
  EXPECT_NE(md.find("expected 12, got 13"), std::string::npos);
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db + ext);
}

TEST(Report, JsonHoldsTheNumbersOfTheDatabase) {
  std::string db = temp_db();
  Store store = Store::open(db);
  int64_t id = build_fixed_run(store);
  nlohmann::json j = report_json(analyze_run(store, id));
  std::string text = j.dump();
  EXPECT_NE(text.find("The total is 13."), std::string::npos);
  EXPECT_NE(text.find("expected 12, got 13"), std::string::npos);
  ASSERT_EQ(j["samples"].size(), 6u);
  EXPECT_EQ(j["summary"]["unstable"], 1);
  bool saw_answer = false, saw_polite = false, saw_mentions = false;
  for (const auto& c : j["criteria"]) {
    std::string id = c["criterion"];
    if (id == "answer") {
      saw_answer = true;
      EXPECT_EQ(c["n"], 3);
      EXPECT_EQ(c["passes"], 2);
      EXPECT_EQ(c["fails"], 1);
      EXPECT_EQ(c["verdict"], "unstable");
      EXPECT_EQ(c["flips"], 1);
      // Wilson 95% for 2/3, by hand: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
      EXPECT_NEAR(c["wilson_lo"].get<double>(), 0.20765, 1e-4);
      EXPECT_NEAR(c["wilson_hi"].get<double>(), 0.93851, 1e-4);
      // k = 3 = n: pass@3 = 1 - C(1,3)/C(3,3) = 1; pass^3 = C(2,3)/C(3,3) = 0.
      EXPECT_DOUBLE_EQ(c["pass_at_k"].get<double>(), 1.0);
      EXPECT_DOUBLE_EQ(c["pass_hat_k"].get<double>(), 0.0);
    } else if (id == "polite") {
      saw_polite = true;
      EXPECT_EQ(c["unscored"], 3);
      EXPECT_EQ(c["verdict"], "unscored");
    } else if (id == "mentions") {
      saw_mentions = true;
      EXPECT_EQ(c["verdict"], "stable-pass");
    }
  }
  EXPECT_TRUE(saw_answer && saw_polite && saw_mentions) << j["criteria"].dump(2);
  for (const auto& g : j["groups"]) {
    if (g["case"] == "sum") {
      EXPECT_EQ(g["unique_outputs"], 2);
      EXPECT_EQ(g["tar_r"], false);
      EXPECT_EQ(g["tar_a"], false);
      EXPECT_EQ(g["divergence"]["repeat_b"], 2);
      EXPECT_EQ(g["divergence"]["char_offset"], 4);  // "The " shared, then "sum" vs "total"
    } else {
      EXPECT_EQ(g["tar_r"], true);
      EXPECT_TRUE(g["tar_a"].is_null());  // no extractor on this case
      EXPECT_TRUE(g["divergence"].is_null());
    }
  }
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db + ext);
}

namespace {

// Runs xmllint's XSD validation of `xml` against tests/fixtures/reports/junit.xsd; returns its
// exit status and output, or nullopt when xmllint is not installed.
std::optional<std::pair<int, std::string>> validate_junit(const std::string& xml) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return std::nullopt;
  fs::path file = fs::temp_directory_path() / ("wobble-junit-" + std::to_string(::getpid()) + ".xml");
  fs::path log = file.string() + ".log";
  std::ofstream(file, std::ios::binary) << xml;
  fs::path xsd = fs::path(WOBBLE_SOURCE_DIR) / "tests/fixtures/reports/junit.xsd";
  std::string cmd = "xmllint --noout --schema '" + xsd.string() + "' '" + file.string() + "' >'" + log.string() + "' 2>&1";
  int rc = std::system(cmd.c_str());
  std::string out = read_all(log);
  fs::remove(file);
  fs::remove(log);
  return std::make_pair(WEXITSTATUS(rc), out);
}

}  // namespace

TEST(Report, JUnitMatchesTheCommittedSnapshot) {
  std::string db = temp_db();
  std::string xml;
  {
    Store store = Store::open(db);
    RunAnalysis a = analyze_run(store, build_fixed_run(store));
    std::ostringstream os;
    render_junit(a, os);
    xml = os.str();
  }
  fs::path fixture = fs::path(WOBBLE_SOURCE_DIR) / "tests/fixtures/reports/fixed_run.junit.xml";
  if (const char* u = std::getenv("WOBBLE_UPDATE_FIXTURES"); u && std::string(u) == "1")
    std::ofstream(fixture, std::ios::binary) << xml;
  ASSERT_TRUE(fs::exists(fixture)) << "missing " << fixture;
  EXPECT_EQ(xml, read_all(fixture)) << "JUnit changed; rerun with WOBBLE_UPDATE_FIXTURES=1 if intended";
  // 2 cases × 1 variant: capital/mentions, sum/answer, sum/polite.
  EXPECT_NE(xml.find("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("timestamp=\"2026-01-02T03:04:05\""), std::string::npos) << xml;
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db + ext);
}

TEST(Report, JUnitIsValidAgainstTheSchemaEvenWithHostileText) {
  std::string db = temp_db();
  std::vector<std::string> documents;
  {
    Store store = Store::open(db);
    RunAnalysis a = analyze_run(store, build_fixed_run(store));
    std::ostringstream os;
    render_junit(a, os);
    documents.push_back(os.str());
    // Hostile names, reasons and evidence: markup, quotes, control bytes and ill-formed UTF-8.
    for (auto& s : a.samples) {
      s.case_id = "c<\"&'>\x01\xff" + s.case_id;
      for (auto& r : s.scores) {
        r.reason = "]]><![CDATA[ \x02 \xc3\x28 </failure>";
        r.evidence.text = "\xed\xa0\x80<x/>";
      }
    }
    RunAnalysis hostile = analyze_samples(a.run, a.samples);
    std::ostringstream hs;
    render_junit(hostile, hs);
    documents.push_back(hs.str());
  }
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db + ext);
  for (const auto& xml : documents) {
    auto result = validate_junit(xml);
    if (!result) GTEST_SKIP() << "xmllint not installed (Debian package libxml2-utils; .ci/install-deps installs it)";
    EXPECT_EQ(result->first, 0) << result->second << "\n" << xml;
  }
  // The schema itself must reject what it should: a testcase without a name.
  auto broken = validate_junit("<testsuites><testsuite name=\"s\" tests=\"1\" failures=\"0\" errors=\"0\">"
                               "<testcase classname=\"c\"/></testsuite></testsuites>");
  ASSERT_TRUE(broken);
  EXPECT_NE(broken->first, 0) << "the schema accepted a testcase without a name";
}
