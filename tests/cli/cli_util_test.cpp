// The CLI's shared helpers: run-selection flags checked like suite fields, run references
// ("latest"), and --help defaults printed as written.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "cli/cli_util.h"
#include "store/store.h"
#include "suite/suite.h"
#include "util/error.h"

using namespace wobble;
using wobble::cli::RunFlags;
using wobble::cli::validate_run_flags;
namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

Suite two_cases() {
  Suite s;
  s.name = "demo";
  Case a;
  a.id = "add-small";
  a.tags = {"math", "smoke"};
  Case b;
  b.id = "capital";
  b.tags = {"geo"};
  s.cases = {a, b};
  return s;
}

// The message of the usage error validate_run_flags throws; "" when it accepts the flags.
std::string rejection(const RunFlags& f) {
  try {
    validate_run_flags(two_cases(), f);
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage) << e.what();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RunFlags, RangesLikeTheSuiteFields) {
  EXPECT_EQ(rejection({}), "");
  EXPECT_EQ(rejection({{}, {}, 1, 1}), "");
  EXPECT_EQ(rejection({{}, {}, 10000, 1024}), "");
  EXPECT_EQ(rejection({{}, {}, 0, std::nullopt}), "--repeats must be between 1 and 10000, got 0");
  EXPECT_EQ(rejection({{}, {}, -3, std::nullopt}), "--repeats must be between 1 and 10000, got -3");
  EXPECT_EQ(rejection({{}, {}, 10001, std::nullopt}), "--repeats must be between 1 and 10000, got 10001");
  EXPECT_EQ(rejection({{}, {}, std::nullopt, 0}), "--concurrency must be between 1 and 1024, got 0");
  EXPECT_EQ(rejection({{}, {}, std::nullopt, 1025}), "--concurrency must be between 1 and 1024, got 1025");
}

TEST(RunFlags, EveryCaseAndTagMustMatchSomething) {
  EXPECT_EQ(rejection({{"add-small", "capital"}, {"geo"}, {}, {}}), "");
  EXPECT_EQ(rejection({{"add-smal"}, {}, {}, {}}),
            "--case 'add-smal': suite 'demo' has no such case (did you mean 'add-small'?)");
  EXPECT_EQ(rejection({{"capital", "zzzzzzzz"}, {}, {}, {}}),
            "--case 'zzzzzzzz': suite 'demo' has no such case (cases: add-small, capital)");
  EXPECT_EQ(rejection({{}, {"smok"}, {}, {}}),
            "--tag 'smok': no case of suite 'demo' has this tag (did you mean 'smoke'?)");
  EXPECT_EQ(rejection({{}, {"history"}, {}, {}}),
            "--tag 'history': no case of suite 'demo' has this tag (tags: geo, math, smoke)");
}

TEST(RunRef, LatestAndIds) {
  fs::path db = fs::temp_directory_path() / ("wobble-cli-util-" + std::to_string(::getpid()) + ".db");
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
  Store store = Store::open(db.string());
  auto expect_usage = [&](const std::string& ref, const std::string& needle) {
    try {
      cli::resolve_run_id(store, ref, "w.db", "--baseline");
      ADD_FAILURE() << ref << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitUsage);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_usage("latest", "--baseline 'latest': there are no runs in w.db");
  RunRecord r;
  r.suite_name = "s";
  r.provider = r.sampling = nlohmann::json::object();
  r.started_at = "2026-01-01T00:00:00Z";
  int64_t first = store.create_run(r), second = store.create_run(r);
  EXPECT_EQ(cli::resolve_run_id(store, "latest", "w.db"), second);
  EXPECT_EQ(cli::resolve_run_id(store, std::to_string(first), "w.db"), first);
  for (const char* bad : {"", "0", "-1", "1x", "x1", "Latest", " 1", "99999999999999999999"})
    expect_usage(bad, "must be a run id (a positive number) or 'latest'");
  expect_usage("42", "no run with id 42 in w.db");
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
}

TEST(HelpDefaults, PrintedAsWritten) {
  EXPECT_EQ(cli::default_text(0.1), "0.1");
  EXPECT_EQ(cli::default_text(0.8), "0.8");
  EXPECT_EQ(cli::default_text(0.8f), "0.8");
  EXPECT_EQ(cli::default_text(3), "3");
  EXPECT_EQ(cli::default_text(std::string("wobble.db")), "wobble.db");
  double jsd = 0.1;
  po::options_description opts("x");
  opts.add_options()("max-routing-jsd", cli::value_with_default(&jsd), "flag");
  std::ostringstream os;
  os << opts;
  EXPECT_NE(os.str().find("(=0.1)"), std::string::npos) << os.str();
  // and the value itself is still the exact default
  po::variables_map vm;
  po::store(po::command_line_parser(std::vector<std::string>{}).options(opts).run(), vm);
  po::notify(vm);
  EXPECT_EQ(jsd, 0.1);
}
