// An output's thinking part and its answer part, kept apart so a criterion grades the answer and a
// report can show the variance of the thinking beside it.
//
// Three ways a model's thinking reaches the harness:
//   think    <think>…</think> in the text (Qwen3, DeepSeek-R1, QwQ). A template that opens the tag
//            in the prompt (DeepSeek-R1's) leaves only the closing tag in the output.
//   harmony  gpt-oss channels: <|channel|>analysis<|message|>…<|end|> (and commentary) is thinking,
//            <|channel|>final<|message|>… is the answer. Needs the output decoded with its special
//            tokens shown (the local provider does this for the harmony template).
//   field    an OpenAI-compatible server parsed the thinking itself and sent it in
//            message.reasoning_content (vLLM, llama.cpp, SGLang) or message.reasoning (Ollama,
//            OpenRouter); `content` is then the answer as sent.
// Rules (documented in rubrics/README.md, "Reasoning and answer"):
//  - The first </think> ends the thinking, as the servers' reasoning parsers decide; tags after it
//    stay in the answer as text. Text before an opening <think> belongs to the answer.
//  - A thinking part that never ends (no </think>, no final channel, or a field with empty content
//    and finish "length") has `closed` false and an empty answer (scorers: rubrics/README.md).
//  - The reasoning is trimmed of surrounding whitespace; the answer of leading whitespace only (the
//    blank line templates put after </think>). An output with no thinking part is its own answer,
//    byte for byte.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wobble {

enum class ReasoningForm { kNone, kThinkTags, kHarmony, kField };
const char* reasoning_form_name(ReasoningForm f);  // "" | "think" | "harmony" | "field"
std::optional<ReasoningForm> reasoning_form_from_name(std::string_view name);

struct OutputParts {
  ReasoningForm form = ReasoningForm::kNone;
  std::string reasoning;  // empty for kNone (and for an empty <think></think>)
  std::string answer;     // the whole output for kNone
  bool closed = true;     // false: the thinking never ended, so there is no answer
  bool has_reasoning() const { return form != ReasoningForm::kNone; }
};

// Splits a text output (think tags or harmony channels; kNone when it has neither).
OutputParts split_output(std::string_view output);
// A server's separate reasoning field: `content` is the answer when `reasoning_field` is not empty;
// otherwise the content is split as text.
OutputParts split_output(std::string_view content, std::string_view reasoning_field, std::string_view finish_reason);

// Which text of an output a criterion grades (rubric key `scope`).
enum class Scope { kAnswer, kReasoning, kRaw };
const char* scope_name(Scope s);  // "answer" | "reasoning" | "raw"
std::optional<Scope> scope_from_name(std::string_view name);

}  // namespace wobble
