// The current time as ISO 8601 UTC text ("2026-11-30T08:35:46Z"), the form every stored timestamp
// (runs.started_at, finished_at) uses.
#pragma once

#include <string>

namespace wobble {

std::string utc_now();

}  // namespace wobble
