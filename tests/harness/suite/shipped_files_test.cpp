// Every suite shipped in suites/ and every rubric in rubrics/ must load: users start from them.
#include <gtest/gtest.h>

#include <filesystem>

#include "suite/rubric_loader.h"
#include "suite/suite.h"

namespace fs = std::filesystem;

TEST(ShippedFiles, EverySuiteAndRubricLoads) {
  int suites = 0, rubrics = 0;
  for (const auto& e : fs::directory_iterator(std::string(WOBBLE_SOURCE_DIR) + "/suites")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    wobble::Suite s = wobble::load_suite(e.path().string());
    EXPECT_FALSE(s.cases.empty());
    ++suites;
  }
  for (const auto& e : fs::directory_iterator(std::string(WOBBLE_SOURCE_DIR) + "/rubrics")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_FALSE(wobble::load_rubric_file(e.path().string()).criteria.empty());
    ++rubrics;
  }
  EXPECT_GE(suites, 1);
  EXPECT_GE(rubrics, 3);
}
