#include "suite/yaml_limits.h"

#include <vector>

#include "util/error.h"

namespace wobble {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Where a | or > block scalar header ends the significant part of a line ("key: |-", "- >2").
bool ends_with_block_scalar_header(std::string_view line, size_t indent) {
  size_t e = line.size();
  while (e > indent && is_space(line[e - 1])) --e;
  while (e > indent && (line[e - 1] == '+' || line[e - 1] == '-' || (line[e - 1] >= '0' && line[e - 1] <= '9'))) --e;
  if (e <= indent || (line[e - 1] != '|' && line[e - 1] != '>')) return false;
  return e - 1 == indent || is_space(line[e - 2]);
}

}  // namespace

void check_yaml_nesting(const std::string& file, std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // yaml-cpp skips a UTF-8 BOM too
  int flow = 0;                 // open [ and { (flow collections span lines)
  char quote = 0;               // ' or " while inside a quoted scalar (they span lines too)
  bool node_start = true;       // the next significant character may begin a node
  long block_scalar_parent = -1;  // indentation of the line holding an open | or > header
  std::vector<long> indents;    // columns of the open block levels, increasing
  int block_depth = 0;          // block levels enclosing the current position
  size_t line_no = 0;
  uint64_t flow_entries = 0;    // collections opened and commas inside flow collections
  auto count_entry = [&] {
    if (++flow_entries > kMaxYamlFlowEntries)
      throw ConfigError(file, int(line_no), "",
                        "more than " + std::to_string(kMaxYamlFlowEntries) +
                            " entries in flow collections ([...], {...}); refusing to load it");
  };
  auto check = [&](int depth) {
    if (depth > kMaxYamlDepth)
      throw ConfigError(file, int(line_no), "",
                        "nested too deeply at line " + std::to_string(line_no) + " (more than " +
                            std::to_string(kMaxYamlDepth) + " levels of lists and mappings); refusing to load it");
  };

  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;

    if (block_scalar_parent >= 0) {  // literal text: nothing in it nests
      if (indent == line.size() || long(indent) > block_scalar_parent) continue;
      block_scalar_parent = -1;
    }
    size_t i = 0;
    if (quote == 0 && flow == 0) {  // a block-context line: its indentation decides its depth
      if (indent == line.size() || line[indent] == '#') continue;
      while (!indents.empty() && indents.back() >= long(indent)) indents.pop_back();
      block_depth = int(indents.size()) + 1;
      check(block_depth);
      indents.push_back(long(indent));
      node_start = true;
      i = indent;
    }
    for (; i < line.size(); ++i) {
      char ch = line[i];
      if (quote == '"') {
        if (ch == '\\') ++i;
        else if (ch == '"') quote = 0, node_start = false;
        continue;
      }
      if (quote == '\'') {
        if (ch == '\'' && i + 1 < line.size() && line[i + 1] == '\'') ++i;
        else if (ch == '\'') quote = 0, node_start = false;
        continue;
      }
      if (is_space(ch)) continue;
      if (ch == '#' && (i == 0 || is_space(line[i - 1]))) break;  // comment to the end of the line
      bool space_after = i + 1 >= line.size() || is_space(line[i + 1]);
      if ((ch == '"' || ch == '\'') && node_start) {
        quote = ch;
      } else if ((ch == '[' || ch == '{') && (flow > 0 || node_start)) {
        ++flow;
        check(block_depth + flow);
        count_entry();
        node_start = true;
      } else if ((ch == ']' || ch == '}') && flow > 0) {
        --flow;
        node_start = false;
      } else if (ch == ',' && flow > 0) {
        node_start = true;
        count_entry();
      } else if (ch == ':' && (space_after || flow > 0)) {
        node_start = true;
        if (flow == 0) check(++block_depth);  // the value is one level below its key
      } else if ((ch == '-' || ch == '?') && space_after && node_start && flow == 0) {
        check(++block_depth);  // a compact "- - x" entry nests on the same line
        size_t content = i + 1;
        while (content < line.size() && is_space(line[content])) ++content;
        indents.push_back(long(content));
      } else if ((ch == '&' || ch == '!') && node_start) {
        while (i + 1 < line.size() && !is_space(line[i + 1])) ++i;  // anchor or tag: a node follows
      } else {
        node_start = false;
      }
    }
    if (quote == 0 && flow == 0 && ends_with_block_scalar_header(line.substr(0, i), indent))
      block_scalar_parent = long(indent);
  }
}

}  // namespace wobble
