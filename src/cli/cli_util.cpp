#include "cli/cli_util.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>

#include "store/store.h"
#include "suite/suite.h"
#include "suite/yaml_node.h"
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

int64_t resolve_run_id(const Store& store, const std::string& ref, const std::string& db_path,
                       const std::string& what) {
  if (ref == "latest") {
    auto runs = store.list_runs("", 1);
    if (runs.empty()) throw Error(kExitUsage, what + " 'latest': there are no runs in " + db_path);
    return runs.front().id;
  }
  int64_t id = 0;
  auto [end, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), id);
  if (ref.empty() || ec != std::errc() || end != ref.data() + ref.size() || id <= 0)
    throw Error(kExitUsage, what + " must be a run id (a positive number) or 'latest', got '" + ref + "'");
  if (!store.run_exists(id))
    throw Error(kExitUsage, "no run with id " + ref + " in " + db_path + " (see 'wobble runs --db " + db_path + "')");
  return id;
}

void validate_run_flags(const Suite& suite, const RunFlags& flags) {
  auto range = [](const std::optional<long long>& v, const char* flag, long long lo, long long hi) {
    if (v && (*v < lo || *v > hi))
      throw Error(kExitUsage, std::string(flag) + " must be between " + std::to_string(lo) + " and " +
                                  std::to_string(hi) + ", got " + std::to_string(*v));
  };
  range(flags.repeats, "--repeats", 1, 10000);
  range(flags.concurrency, "--concurrency", 1, 1024);
  std::set<std::string> ids, tags;
  for (const auto& c : suite.cases) {
    ids.insert(c.id);
    tags.insert(c.tags.begin(), c.tags.end());
  }
  // Names the flag and the unknown value, then the closest known value or (when few) all of them.
  auto unknown = [&](const std::string& what, const std::string& value, const std::set<std::string>& known,
                     const char* kind) {
    std::string msg = what;
    std::string hint = closest_match(value, known);
    if (!hint.empty()) {
      msg += " (did you mean '" + hint + "'?)";
    } else if (known.empty()) {
      msg += std::string(" (no case has any ") + kind + ")";
    } else if (known.size() <= 12) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      msg += std::string(" (") + kind + "s: " + list + ")";
    }
    throw Error(kExitUsage, msg);
  };
  for (const auto& id : flags.case_ids)
    if (!ids.count(id)) unknown("--case '" + id + "': suite '" + suite.name + "' has no such case", id, ids, "case");
  for (const auto& t : flags.tags)
    if (!tags.count(t)) unknown("--tag '" + t + "': no case of suite '" + suite.name + "' has this tag", t, tags, "tag");
}

}  // namespace wobble::cli
