// The cap on one sample's stored output (suite key provider.max_output_bytes, default 1 MiB).
//
// A model or server may send up to the transport limit (16 MiB per response); storing that per
// sample makes the database and every report grow without bound. The runner cuts each output to the
// cap before storing and scoring it: scores, extracted answers and stability are computed on the
// stored text, so a report rebuilt from the database agrees with the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wobble {

inline constexpr size_t kDefaultMaxOutputBytes = size_t(1) << 20;  // 1 MiB
// The finish reason stored for an output the cap cut (whatever the provider reported is replaced).
inline constexpr const char* kFinishTruncatedByWobble = "truncated_by_wobble";

// Cuts `text` to at most `max_bytes`, never inside a UTF-8 character: the cut backs off to the start
// of the character that would cross the cap (utf8_floor: at most 3 bytes). When it cuts, sets
// `finish_reason` to kFinishTruncatedByWobble and returns the original length in bytes; otherwise leaves both alone and returns -1 (the value
// SampleRecord::output_original_bytes holds for an uncut output).
int64_t cap_output(std::string& text, size_t max_bytes, std::string& finish_reason);

}  // namespace wobble
