#include "cli/cli_util.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "util/error.h"

namespace wobble::cli {

void write_output(const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path.empty() || path == "-") {
    write(std::cout);
    std::cout.flush();
    return;
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw RuntimeError("cannot write '" + tmp + "'");
    write(out);
    out.flush();
    if (!out) throw RuntimeError("error while writing '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw RuntimeError("cannot move report into place at '" + path + "'");
  }
}

}  // namespace wobble::cli
