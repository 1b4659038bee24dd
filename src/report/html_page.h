// The frame shared by every HTML page Wobble writes (run report, comparison, trend): one
// self-contained document with inline CSS, no external assets and no script. Its
// Content-Security-Policy forbids scripts, network fetches and plugins, so even a browser bug in
// escaping elsewhere could not run a model's output.
#pragma once

#include <ostream>
#include <string>

namespace wobble {

void html_page_begin(std::ostream& out, const std::string& title);  // title is escaped
// `json_command` is the command that prints the page's numbers as JSON (e.g. "wobble compare 3 4 --format json").
void html_page_end(std::ostream& out, const std::string& json_command);

}  // namespace wobble
