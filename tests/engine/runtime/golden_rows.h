// Reads a golden-logits fixture (tests/fixtures/engine/golden_*.txt): one line of whitespace-separated
// numbers per prompt position, written by engine/tools/reference_forward.py. Blank lines are skipped;
// a missing file gives no rows, which the caller's size check reports.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace moe::testing {

inline std::vector<std::vector<double>> read_golden_rows(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<double>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<double> r;
    double v;
    while (ls >> v) r.push_back(v);
    if (!r.empty()) rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace moe::testing
