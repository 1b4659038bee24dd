// `wobble show`: every stored fact of one sample, as JSON and as terminal text.
//
// Both views hold the prompt, the output (with the original size when wobble cut it), finish
// reason, token counts, latency, the model id the endpoint reported, the extracted answer, the
// token logprobs (summary: mean and min; per token with their top alternatives on request), each
// criterion's outcome with score, evidence span and text, expected value and reason, and every
// attempt with its outcome, HTTP status, latency, wait and error.
// The text view prints every stored string through the terminal rule of util/text_policy.h; the
// JSON view is meant for dump_json. Unknown counts (-1) are null in JSON and "?" in text.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace wobble {

nlohmann::json sample_json(const SampleRecord& s);
void render_sample_text(const SampleRecord& s, std::ostream& out, bool per_token_logprobs);

}  // namespace wobble
