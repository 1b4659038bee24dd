// libFuzzer target: any byte string as a suite file and as a rubric file, through the same loaders
// `wobble run` uses (bounded read, nesting pre-scan, alias expansion counter, yaml-cpp, validation,
// template checks), then the suite snapshot and every rendered prompt. A ConfigError is the expected
// answer to bad input; any other exception escaping, a crash, a leak or a sanitizer report is a
// finding. Built with -DWOBBLE_BUILD_FUZZ=ON (clang); run by .ci/fuzz-suite.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "suite/rubric_loader.h"
#include "suite/suite.h"
#include "suite/yaml_node.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace {

// A private directory holding a copy of the shipped rubrics, so that suites naming
// rubrics/*.yaml resolve and the rubric path is exercised too.
const fs::path& work_dir() {
  static fs::path dir = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("wobble-fuzz-suite-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::error_code ec;
    fs::copy(fs::path(WOBBLE_SOURCE_DIR) / "rubrics", d / "rubrics", fs::copy_options::recursive, ec);
    std::atexit([] {
      std::error_code e;
      fs::remove_all(work_dir(), e);
    });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = (work_dir() / "input.yaml").string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  volatile size_t sink = 0;
  try {
    wobble::Suite s = wobble::load_suite(path);
    sink = sink + wobble::suite_to_json(s).dump().size();
    for (const auto& c : s.cases)
      for (const auto& v : s.variants) sink = sink + wobble::render_prompt(v, c).as_text().size();
  } catch (const wobble::Error&) {
  }
  try {
    wobble::Rubric r = wobble::load_rubric_file(path);
    sink = sink + r.criteria.size();
  } catch (const wobble::Error&) {
  }
  return 0;
}
