// wobble tokenize: show how a model's tokenizer splits a text (ids and vocabulary pieces).
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "moe/tokenizer.h"
#include "util/bounded_read.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

constexpr size_t kMaxInputBytes = 64u << 20;  // a tokenizer demo, not a corpus tool

int tokenize_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble tokenize -m MODEL.gguf (--text TEXT | --file F) [options]");
  std::string path, text, file;
  opts.add_options()("help,h", "show this help")
      ("model,m", po::value(&path), "GGUF file with tokenizer.* metadata (a vocab-only file works)")
      ("text", po::value(&text), "text to tokenize")
      ("file", po::value(&file), "read the text to tokenize from FILE (bytes as they are)")
      ("no-bos", "do not add the BOS/EOS tokens the vocabulary asks for")
      ("parse-special", "turn control-token texts such as <|im_start|> into their ids")
      ("json", "print {\"ids\": [...], \"pieces\": [...]} instead of one 'id<TAB>piece' line per token");
  po::variables_map vm;
  if (parse_or_help(opts, nullptr, args, vm)) return kExitOk;
  if (path.empty()) throw Error(kExitUsage, "-m MODEL.gguf is required");
  if (vm.count("text") == vm.count("file")) throw Error(kExitUsage, "give exactly one of --text and --file");
  if (!file.empty()) text = read_file_bounded(file, kMaxInputBytes);

  auto tok = moe::Tokenizer::load(path);
  if (!tok.ok()) throw RuntimeError(path + ": " + tok.status().ToString());
  moe::EncodeOptions eo;
  eo.add_special = !vm.count("no-bos");
  eo.parse_special = vm.count("parse-special") > 0;
  auto ids = (*tok)->encode(text, eo);
  // Invalid UTF-8 in the user's text is a problem with the invocation, not with the model.
  if (!ids.ok()) throw Error(kExitUsage, ids.status().message());

  if (vm.count("json")) {
    nlohmann::json j;
    j["ids"] = *ids;
    j["pieces"] = nlohmann::json::array();
    for (int32_t id : *ids) j["pieces"].push_back((*tok)->piece(id));
    // Vocabulary pieces come from the file; never let a malformed one abort the dump.
    std::cout << dump_json(j) << "\n";
    return kExitOk;
  }
  for (int32_t id : *ids) std::cout << id << "\t" << term_line((*tok)->piece(id)) << "\n";
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("tokenize", "print token ids and pieces of a text", tokenize_command);

}  // namespace wobble::cli
