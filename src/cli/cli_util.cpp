#include "cli/cli_util.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "util/error.h"

namespace wobble::cli {

bool parse_or_help(const boost::program_options::options_description& opts,
                   const boost::program_options::positional_options_description* positional,
                   const std::vector<std::string>& args, boost::program_options::variables_map& vm,
                   std::string_view help_epilogue) {
  namespace po = boost::program_options;
  po::command_line_parser parser(args);
  parser.options(opts);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << opts << help_epilogue;
    return true;
  }
  po::notify(vm);
  return false;
}

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
