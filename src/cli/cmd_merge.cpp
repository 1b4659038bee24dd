// wobble merge OUT.db IN.db... : combine shard databases into one run.
#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "store/merge.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int merge_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble merge OUT.db IN.db... [options]");
  std::vector<std::string> paths;
  opts.add_options()("help,h", "show this help")("json", "print the result as JSON")
      ("paths", po::value(&paths)->multitoken(), "output database, then the input databases");
  po::positional_options_description pos;
  pos.add("paths", -1);
  po::variables_map vm;
  constexpr const char* kHelpTail =
      "\nEvery run in the inputs must come from the same suite and configuration (e.g. the shards of\n"
      "'wobble run --shard i/N'). The merged run holds each (case, variant, repeat) once; when\n"
      "shards are missing it is left 'interrupted' and 'wobble run --resume ID --db OUT.db' runs the rest.\n";
  if (parse_or_help(opts, &pos, args, vm, kHelpTail)) return kExitOk;
  if (paths.size() < 2) throw Error(kExitUsage, "give an output database and at least one input: wobble merge OUT.db IN.db...");
  std::vector<std::string> inputs(paths.begin() + 1, paths.end());
  MergeResult r = merge_databases(paths[0], inputs);
  std::string shards;
  for (const auto& s : r.shards) shards += (shards.empty() ? "" : ", ") + (s.empty() ? std::string("unsharded") : s);
  std::cerr << "merged " << r.input_runs << " run(s) (" << shards << ") into run " << r.run_id << " of " << paths[0]
            << ": " << r.samples << "/" << r.expected << " samples, " << r.duplicates << " duplicate(s) left out";
  if (r.conflicts) std::cerr << " (" << r.conflicts << " with a different output than the kept one)";
  std::cerr << ", status " << r.status << "\n";
  if (r.status != "complete")
    std::cerr << "missing samples: finish with 'wobble run --resume " << r.run_id << " --db " << paths[0] << "'\n";
  if (vm.count("json"))
    std::cout << dump_json(nlohmann::json{{"run_id", r.run_id}, {"input_runs", r.input_runs}, {"samples", r.samples},
                                {"expected", r.expected}, {"duplicates", r.duplicates}, {"conflicts", r.conflicts},
                                {"shards", r.shards}, {"status", r.status}}) << "\n";
  else
    std::cout << r.run_id << "\n";
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("merge", "combine shard databases (wobble run --shard i/N) into one run", merge_command);

}  // namespace wobble::cli
