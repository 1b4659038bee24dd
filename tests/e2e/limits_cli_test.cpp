// `wobble` on inputs that never end: a device and a FIFO as the suite path, a device as
// `tokenize --file`. Each must exit 2 with a message naming the file (and the limit), promptly.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "support/process.h"
#include "support/scratch.h"

using namespace wobble::testing;

TEST(LimitsCli, DevZeroAsSuiteExitsTwoNamingTheFileAndTheLimit) {
  auto r = run_process({WOBBLE_EXE, "run", "/dev/zero", "--db", testsupport::scratch_path("z.db")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("/dev/zero: file is larger than the 16 MiB limit"), std::string::npos) << r.err;
}

TEST(LimitsCli, FifoWithoutWriterAsSuiteExitsTwoInsteadOfWaiting) {
  std::string fifo = testsupport::scratch_path("suite.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = run_process({WOBBLE_EXE, "run", fifo, "--db", testsupport::scratch_path("f.db")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(fifo + ": suite file is empty"), std::string::npos) << r.err;
}

TEST(LimitsCli, TokenizeFileFromADeviceIsBounded) {
  auto r = run_process({WOBBLE_EXE, "tokenize", "-m", "unused.gguf", "--file", "/dev/zero"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("/dev/zero: file is larger than the 64 MiB limit"), std::string::npos) << r.err;
}

TEST(LimitsCli, FifoAsModelIsRefusedInsteadOfWaiting) {
  std::string fifo = testsupport::scratch_path("model.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = run_process({WOBBLE_EXE, "tokenize", "-m", fifo, "--text", "hi"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find(fifo + ": not a regular file"), std::string::npos) << r.err;
}
