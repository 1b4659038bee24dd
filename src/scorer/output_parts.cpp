#include "scorer/output_parts.h"

#include <vector>

namespace wobble {
namespace {

constexpr std::string_view kOpen = "<think>", kClose = "</think>";
constexpr std::string_view kChannel = "<|channel|>", kMessage = "<|message|>", kStart = "<|start|>";
// What ends a harmony message: <|end|> between messages, <|return|> after the final one, <|call|>
// after a tool call. A following <|start|> or <|channel|> also ends one whose end token was cut.
constexpr std::string_view kEnds[] = {"<|end|>", "<|return|>", "<|call|>", "<|start|>", "<|channel|>"};

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string ltrim(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && is_space(s[b])) ++b;
  return std::string(s.substr(b));
}

OutputParts split_think(std::string_view out, size_t open, size_t close) {
  OutputParts p;
  p.form = ReasoningForm::kThinkTags;
  if (open != std::string_view::npos && (close == std::string_view::npos || open < close)) {
    std::string_view before = out.substr(0, open);
    size_t body = open + kOpen.size();
    if (close == std::string_view::npos) {
      // Text before the opening tag is all the answer there is; with none, the model never answered.
      p.reasoning = trim(out.substr(body));
      p.answer = trim(before);
      p.closed = false;
      return p;
    }
    p.reasoning = trim(out.substr(body, close - body));
    std::string after = ltrim(out.substr(close + kClose.size()));
    std::string head = trim(before);
    p.answer = head.empty() ? after : head + (after.empty() ? "" : "\n\n" + after);
    return p;
  }
  // The template opened the thinking in the prompt: everything up to the first </think> is thinking.
  p.reasoning = trim(out.substr(0, close));
  p.answer = ltrim(out.substr(close + kClose.size()));
  return p;
}

struct HarmonyMessage {
  std::string channel;
  std::string_view body;
  bool terminated = false;
};

OutputParts split_harmony(std::string_view out) {
  std::vector<HarmonyMessage> msgs;
  std::string stray;  // text outside any message, other than <|start|>role headers
  size_t pos = 0;
  while (pos < out.size()) {
    size_t ch = out.find(kChannel, pos);
    std::string_view gap = out.substr(pos, (ch == std::string_view::npos ? out.size() : ch) - pos);
    // A header between messages is "<|start|>assistant" (or another role); anything else is kept.
    if (size_t s = gap.find(kStart); s != std::string_view::npos) gap = gap.substr(0, s);
    if (!trim(gap).empty()) stray += (stray.empty() ? "" : "\n") + trim(gap);
    if (ch == std::string_view::npos) break;
    size_t header = ch + kChannel.size();
    size_t msg = out.find(kMessage, header);
    if (msg == std::string_view::npos) break;  // a header cut before its message: nothing to keep
    std::string_view head = out.substr(header, msg - header);
    size_t word = 0;
    while (word < head.size() && !is_space(head[word]) && head[word] != '<') ++word;
    HarmonyMessage m;
    m.channel = std::string(head.substr(0, word));
    size_t body = msg + kMessage.size(), end = out.size(), next = out.size();
    for (auto e : kEnds) {
      size_t at = out.find(e, body);
      if (at != std::string_view::npos && at < end) {
        end = at;
        // <|start|> and <|channel|> begin the next message: parse them again.
        next = (e == kStart || e == kChannel) ? at : at + e.size();
        m.terminated = e != kStart && e != kChannel;
      }
    }
    m.body = out.substr(body, end - body);
    msgs.push_back(std::move(m));
    pos = next;
  }
  OutputParts p;
  p.form = ReasoningForm::kHarmony;
  bool final_seen = false;
  std::string answer;
  for (const auto& m : msgs) {
    if (m.channel == "final") {
      final_seen = true;
      answer += std::string(m.body);
    } else {  // analysis, commentary (preambles, tool calls): not the answer
      std::string t = trim(m.body);
      if (!t.empty()) p.reasoning += (p.reasoning.empty() ? "" : "\n\n") + t;
    }
  }
  p.closed = final_seen;
  p.answer = ltrim(answer);
  if (!stray.empty()) p.answer += (p.answer.empty() ? "" : "\n") + stray;
  return p;
}

}  // namespace

const char* reasoning_form_name(ReasoningForm f) {
  switch (f) {
    case ReasoningForm::kNone: return "";
    case ReasoningForm::kThinkTags: return "think";
    case ReasoningForm::kHarmony: return "harmony";
    case ReasoningForm::kField: return "field";
  }
  return "";
}

std::optional<ReasoningForm> reasoning_form_from_name(std::string_view name) {
  for (auto f : {ReasoningForm::kNone, ReasoningForm::kThinkTags, ReasoningForm::kHarmony, ReasoningForm::kField})
    if (name == reasoning_form_name(f)) return f;
  return std::nullopt;
}

OutputParts split_output(std::string_view out) {
  if (out.find(kChannel) != std::string_view::npos && out.find(kMessage) != std::string_view::npos)
    return split_harmony(out);
  size_t close = out.find(kClose);
  size_t open = out.find(kOpen);
  if (open == std::string_view::npos && close == std::string_view::npos) {
    OutputParts p;
    p.answer = std::string(out);
    return p;
  }
  return split_think(out, open, close);
}

OutputParts split_output(std::string_view content, std::string_view reasoning_field, std::string_view finish_reason) {
  if (reasoning_field.empty()) return split_output(content);
  OutputParts p;
  p.form = ReasoningForm::kField;
  p.reasoning = trim(reasoning_field);
  p.answer = ltrim(content);
  // Servers put everything in the reasoning field while </think> has not come; cut by the token
  // limit, the content is then empty because the thinking never ended.
  p.closed = !(p.answer.empty() && finish_reason == "length");
  return p;
}

const char* scope_name(Scope s) {
  switch (s) {
    case Scope::kAnswer: return "answer";
    case Scope::kReasoning: return "reasoning";
    case Scope::kRaw: return "raw";
  }
  return "answer";
}

std::optional<Scope> scope_from_name(std::string_view name) {
  for (auto s : {Scope::kAnswer, Scope::kReasoning, Scope::kRaw})
    if (name == scope_name(s)) return s;
  return std::nullopt;
}

}  // namespace wobble
