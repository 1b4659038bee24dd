// The documentation cannot rot silently: every command's `--help` flags and every scorer name must
// appear in the docs, the tutorial's files must be the ones in the repository, README.md stays a
// front door (<= 12 KB), and every relative link between the docs points at a file and heading
// that exist.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "scorer/scorer.h"
#include "support/process.h"

using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = WOBBLE_SOURCE_DIR;

const std::vector<std::string> kDocs = {
    "README.md",        "suites/README.md",    "rubrics/README.md", "reports/README.md",
    "engine/README.md", "src/store/README.md", "src/cli/README.md", "tests/README.md",
};

std::string all_docs() {
  std::string text;
  for (const auto& d : kDocs) text += read_text_file((kRoot / d).string()) + "\n";
  return text;
}

// Command names listed by `wobble --help` under "commands:".
std::vector<std::string> commands() {
  ProcessResult r = run_process({WOBBLE_EXE, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream in(r.out + r.err);
  bool in_list = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("commands:", 0) == 0) {
      in_list = true;
      continue;
    }
    if (!in_list) continue;
    std::smatch m;
    if (std::regex_match(line, m, std::regex("^  ([a-z][a-z-]*)  .*"))) {
      out.push_back(m[1]);
    } else if (!line.empty() && line[0] != ' ') {
      break;
    }
  }
  return out;
}

std::set<std::string> flags_in(const std::string& help) {
  std::set<std::string> flags;
  std::regex flag("(^|[\\s,\\[(])(--[a-z][a-z0-9-]*)");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator(); ++it) {
    flags.insert((*it)[2]);
  }
  return flags;
}

// GitHub's heading anchor: lower case, punctuation other than '-' and '_' dropped, spaces to '-'.
std::string anchor_of(const std::string& heading) {
  std::string a;
  for (unsigned char c : heading) {
    if (std::isalnum(c) || c == '-' || c == '_' || c >= 0x80) {
      a += static_cast<char>(std::tolower(c));
    } else if (c == ' ') {
      a += '-';
    }
  }
  return a;
}

std::set<std::string> anchors_of(const std::string& markdown) {
  std::set<std::string> out;
  std::istringstream in(markdown);
  bool fence = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) fence = !fence;
    if (fence || line.empty() || line[0] != '#') continue;
    size_t i = line.find_first_not_of('#');
    if (i == std::string::npos) continue;
    out.insert(anchor_of(line.substr(line.find_first_not_of(' ', i))));
  }
  return out;
}

}  // namespace

TEST(Docs, EveryCommandAndEveryHelpFlagIsDocumented) {
  const std::string docs = all_docs();
  const std::string cli = read_text_file((kRoot / "src/cli/README.md").string());
  auto cmds = commands();
  ASSERT_GE(cmds.size(), 10u) << "could not read the command list from wobble --help";
  std::vector<std::string> missing;
  for (const auto& c : cmds) {
    if (cli.find("wobble " + c) == std::string::npos) missing.push_back("command '" + c + "' in src/cli/README.md");
    ProcessResult r = run_process({WOBBLE_EXE, c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c << ": " << r.err;
    auto flags = flags_in(r.out + r.err);
    EXPECT_TRUE(flags.count("--help")) << c << " --help lists no flags: " << r.out;
    for (const auto& f : flags) {
      if (docs.find(f) == std::string::npos) missing.push_back("wobble " + c + " " + f);
    }
  }
  EXPECT_TRUE(missing.empty()) << "not in the docs (README.md, */README.md):\n  " << [&] {
    std::string s;
    for (const auto& m : missing) s += m + "\n  ";
    return s;
  }();
}

TEST(Docs, EveryScorerIsDocumentedInTheRubricReference) {
  const std::string rubrics = read_text_file((kRoot / "rubrics/README.md").string());
  auto names = wobble::scorer_names();
  ASSERT_GE(names.size(), 10u);
  for (const auto& n : names) {
    EXPECT_NE(rubrics.find("`" + n + "`"), std::string::npos) << "scorer '" << n << "' is not in rubrics/README.md";
  }
}

TEST(Docs, TheTutorialShowsTheRepositorysFilesVerbatim) {
  const std::string readme = read_text_file((kRoot / "README.md").string());
  for (const char* f : {"suites/first-suite.yaml", "rubrics/first-rubric.yaml"}) {
    std::string body = read_text_file((kRoot / f).string());
    ASSERT_FALSE(body.empty()) << f;
    EXPECT_NE(readme.find("```yaml\n" + body + "```"), std::string::npos)
        << "README.md's tutorial no longer shows " << f << " as it is in the repository";
  }
}

TEST(Docs, TheTutorialSuiteValidatesAndRuns) {
  std::string dir = make_temp_dir("docs-tutorial");
  std::string db = dir + "/runs.db";
  ProcessResult run = run_process({WOBBLE_EXE, "run", (kRoot / "suites/first-suite.yaml").string(), "--db", db,
                                   "--quiet", "--repeats", "2", "--case", "add"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ProcessResult rep = run_process({WOBBLE_EXE, "report", "latest", "--db", db, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_NE(rep.out.find("\"correct\""), std::string::npos);
  EXPECT_NE(rep.out.find("\"one-line\""), std::string::npos);
}

TEST(Docs, ReadmeIsAFrontDoorNotTheManual) {
  auto size = fs::file_size(kRoot / "README.md");
  EXPECT_LE(size, 12u * 1024) << "README.md is " << size << " bytes; move reference text beside what it describes";
}

TEST(Docs, RelativeLinksPointAtFilesAndHeadingsThatExist) {
  std::regex link("\\]\\(([^)\\s]+)\\)");
  std::vector<std::string> broken;
  for (const auto& d : kDocs) {
    fs::path file = kRoot / d;
    std::string text = read_text_file(file.string());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), link); it != std::sregex_iterator(); ++it) {
      std::string target = (*it)[1];
      if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 || target.rfind("mailto:", 0) == 0) {
        continue;
      }
      std::string path = target.substr(0, target.find('#'));
      std::string anchor = target.find('#') == std::string::npos ? "" : target.substr(target.find('#') + 1);
      fs::path resolved = path.empty() ? file : (file.parent_path() / path).lexically_normal();
      if (!fs::exists(resolved)) {
        broken.push_back(d + ": " + target + " (no such file)");
        continue;
      }
      if (!anchor.empty() && resolved.extension() == ".md" &&
          !anchors_of(read_text_file(resolved.string())).count(anchor)) {
        broken.push_back(d + ": " + target + " (no such heading)");
      }
    }
  }
  EXPECT_TRUE(broken.empty()) << [&] {
    std::string s;
    for (const auto& b : broken) s += b + "\n";
    return s;
  }();
}
