// Running the real `wobble` binary from tests: captures stdout and stderr, returns the exit code.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace wobble::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out, err;
};

// Runs argv with extra environment variables (in `cwd` when given); blocks until it exits.
ProcessResult run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                          const std::string& cwd = "");

// A process started in the background with its stdout and stderr captured to files.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                    const std::string& cwd = "");
  ~BackgroundProcess();  // kills the process if it still runs
  int pid() const { return pid_; }
  void signal(int sig);
  std::string err_so_far() const;
  ProcessResult wait();  // blocks until it exits

 private:
  int pid_ = -1;
  bool reaped_ = false;
  std::string out_path_, err_path_;
};

// Starts argv in the background; returns its pid (stdout/stderr to /dev/null).
int spawn_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});

// A fresh empty directory under the build tree's tmp area, removed by the caller if wanted.
std::string make_temp_dir(const std::string& tag);
std::string read_text_file(const std::string& path);
void write_text_file(const std::string& path, const std::string& text);

}  // namespace wobble::testing
