// Progress on a non-terminal stderr: retries are shown as they happen, with the cause and the wait.
#include <gtest/gtest.h>

#include "runner/progress.h"

using namespace wobble;

TEST(Progress, ShowsRetriesWithTheirCauseAndWait) {
  ::testing::internal::CaptureStderr();
  {
    Progress p(10, false);
    Attempt a;
    a.http_status = 429;
    a.outcome = "http_error";
    p.waiting(a, 1.04);
    p.resumed();
    p.finish(10, 0);
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("retrying 1 (429, waiting 1.0 s)"), std::string::npos) << err;
  EXPECT_NE(err.find("10/10 samples"), std::string::npos) << err;
  EXPECT_NE(err.find("retries 1\n"), std::string::npos) << err;
}

TEST(Progress, QuietPrintsNothing) {
  ::testing::internal::CaptureStderr();
  {
    Progress p(3, true);
    Attempt a;
    a.outcome = "timeout";
    p.waiting(a, 2);
    p.finish(3, 1);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}
