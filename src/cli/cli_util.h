// Helpers shared by subcommands: writing output to a file or stdout atomically.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace wobble::cli {

// Calls write(os) with stdout when path is empty or "-", else with a temporary file that is then
// renamed over `path`, so a failed report never leaves a half-written file. Throws RuntimeError.
void write_output(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace wobble::cli
