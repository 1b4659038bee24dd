// Chat templates of the supported families, written out by hand from each family's published
// template. Detection looks for each family's distinctive markers in tokenizer.chat_template.
#include "moe/chat_template.h"

#include <ctime>

namespace moe {
namespace {

struct FamilyName {
  ChatFamily family;
  const char* name;
};
// One table for every name, in the enum's order: parsing, printing, help texts and errors use it.
constexpr FamilyName kNames[] = {
    {ChatFamily::kRaw, "raw"},         {ChatFamily::kChatML, "chatml"},         {ChatFamily::kMistral, "mistral"},
    {ChatFamily::kGranite, "granite"}, {ChatFamily::kTulu, "tulu"},             {ChatFamily::kLlama3, "llama3"},
    {ChatFamily::kDeepSeek, "deepseek"}, {ChatFamily::kQwen3, "qwen3"},         {ChatFamily::kDeepSeekV3, "deepseek3"},
    {ChatFamily::kDeepSeekR1, "deepseek-r1"}, {ChatFamily::kHarmony, "harmony"}};
static_assert(std::size(kNames) == size_t(kChatFamilyCount), "one name per ChatFamily");

bool has(std::string_view t, std::string_view s) { return t.find(s) != std::string_view::npos; }

// Python's str.strip/lstrip/rstrip with a set of characters, as the templates call them.
std::string_view lstrip(std::string_view s, std::string_view chars) {
  size_t b = s.find_first_not_of(chars);
  return b == std::string_view::npos ? std::string_view() : s.substr(b);
}
std::string_view rstrip(std::string_view s, std::string_view chars) {
  size_t e = s.find_last_not_of(chars);
  return e == std::string_view::npos ? std::string_view() : s.substr(0, e + 1);
}

std::string today_utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// Qwen3: ChatML; an assistant turn after the last user query shows its thinking, earlier ones lose
// it; the generation prompt carries the thinking switch.
std::string render_qwen3(std::span<const ChatMessage> msgs, const ChatOptions& o) {
  std::string s;
  if (!msgs.empty() && msgs[0].role == "system") s += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  size_t last_query = msgs.empty() ? 0 : msgs.size() - 1;
  for (size_t k = msgs.size(); k-- > 0;) {
    const auto& c = msgs[k].content;
    bool tool_response = c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
    if (msgs[k].role == "user" && !tool_response) {
      last_query = k;
      break;
    }
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      std::string_view content = m.content, reasoning;
      if (size_t first = content.find("</think>"); first != std::string_view::npos) {
        std::string_view head = rstrip(content.substr(0, first), "\n");
        if (size_t open = head.rfind("<think>"); open != std::string_view::npos) head = head.substr(open + 7);
        reasoning = lstrip(head, "\n");
        content = lstrip(content.substr(content.rfind("</think>") + 8), "\n");
      }
      bool last = i + 1 == msgs.size();
      if (i > last_query && (last || !reasoning.empty()))
        s += "<|im_start|>assistant\n<think>\n" + std::string(rstrip(lstrip(reasoning, "\n"), "\n")) + "\n</think>\n\n" +
             std::string(lstrip(content, "\n"));
      else
        s += "<|im_start|>assistant\n" + std::string(content);
      s += "<|im_end|>\n";
    }
    // Other roles (developer, tool) are not rendered by the published template without tools.
  }
  if (o.add_generation_prompt) {
    s += "<|im_start|>assistant\n";
    if (!o.enable_thinking) s += "<think>\n\n</think>\n\n";
  }
  return s;
}

// DeepSeek-V3 / R1: system prompts joined in front, <｜User｜>/<｜Assistant｜> turns; R1 drops the
// thinking of earlier answers and opens a new one in the generation prompt.
std::string render_deepseek3(std::span<const ChatMessage> msgs, const ChatOptions& o, bool r1) {
  std::string s = o.bos_text, system;
  bool first_sp = true;
  for (const auto& m : msgs)
    if (m.role == "system") {
      system += (first_sp ? "" : "\n\n") + m.content;
      first_sp = false;
    }
  s += system;
  for (const auto& m : msgs) {
    if (m.role == "user") {
      s += "<｜User｜>" + m.content;
    } else if (m.role == "assistant") {
      std::string_view content = m.content;
      if (r1)
        if (size_t at = content.rfind("</think>"); at != std::string_view::npos) content = content.substr(at + 8);
      s += "<｜Assistant｜>" + std::string(content) + (o.eos_text.empty() ? "<｜end▁of▁sentence｜>" : o.eos_text);
    }
  }
  if (o.add_generation_prompt) s += r1 ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
  return s;
}

// gpt-oss harmony: a system message the template writes itself (identity, knowledge cutoff, date,
// reasoning effort, valid channels); a leading system or developer message becomes the developer's
// instructions; earlier answers are final-channel messages (their thinking is dropped).
std::string render_harmony(std::span<const ChatMessage> msgs, const ChatOptions& o) {
  std::string s = "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n";
  s += "Knowledge cutoff: 2024-06\n";
  s += "Current date: " + (o.current_date.empty() ? today_utc() : o.current_date) + "\n\n";
  s += "Reasoning: " + (o.reasoning_effort.empty() ? std::string("medium") : o.reasoning_effort) + "\n\n";
  s += "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>";
  size_t from = 0;
  if (!msgs.empty() && (msgs[0].role == "system" || msgs[0].role == "developer")) {
    from = 1;
    if (!msgs[0].content.empty())
      s += "<|start|>developer<|message|># Instructions\n\n" + msgs[0].content + "\n\n<|end|>";
  }
  for (size_t i = from; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.role == "user") {
      s += "<|start|>user<|message|>" + m.content + "<|end|>";
    } else if (m.role == "assistant") {
      bool closing = i + 1 == msgs.size() && !o.add_generation_prompt;
      s += "<|start|>assistant<|channel|>final<|message|>" + m.content + (closing ? "<|return|>" : "<|end|>");
    }
    // A later system or developer message is not rendered by the published template.
  }
  if (o.add_generation_prompt) s += "<|start|>assistant";
  return s;
}

}  // namespace

Result<ChatFamily> chat_family_from_name(std::string_view name) {
  for (const auto& f : kNames)
    if (name == f.name) return f.family;
  return Status::InvalidArgument("unknown chat template '" + std::string(name) + "' (" + chat_family_list() + ")");
}

const char* chat_family_name(ChatFamily f) {
  for (const auto& n : kNames)
    if (n.family == f) return n.name;
  return "raw";
}

std::vector<std::string> chat_family_names() {
  std::vector<std::string> v;
  for (const auto& n : kNames) v.emplace_back(n.name);
  return v;
}

std::string chat_family_list() {
  std::string s;
  for (const auto& n : kNames) s += (s.empty() ? "" : " | ") + std::string(n.name);
  return s;
}

ChatFamily detect_chat_family(std::string_view t) {
  // Most specific first: harmony and DeepSeek-V3 templates also contain markers of older families.
  if (has(t, "<|channel|>") && has(t, "<|start|>")) return ChatFamily::kHarmony;
  if (has(t, "<｜Assistant｜>"))
    return has(t, "<｜Assistant｜><think>") ? ChatFamily::kDeepSeekR1 : ChatFamily::kDeepSeekV3;
  if (has(t, "<|im_start|>")) return has(t, "enable_thinking") ? ChatFamily::kQwen3 : ChatFamily::kChatML;
  if (has(t, "<|start_header_id|>")) return ChatFamily::kLlama3;
  if (has(t, "<|start_of_role|>")) return ChatFamily::kGranite;
  if (has(t, "[INST]")) return ChatFamily::kMistral;
  if (has(t, "<|user|>") && has(t, "<|assistant|>")) return ChatFamily::kTulu;
  if (has(t, "### Instruction") || has(t, "User: ")) return ChatFamily::kDeepSeek;
  return ChatFamily::kRaw;
}

bool chat_output_needs_specials(ChatFamily f) { return f == ChatFamily::kHarmony; }

std::string render_chat(ChatFamily f, std::span<const ChatMessage> msgs, bool add_generation_prompt,
                        std::string_view bos, std::string_view eos) {
  ChatOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_text = std::string(bos);
  o.eos_text = std::string(eos);
  return render_chat(f, msgs, o);
}

std::string render_chat(ChatFamily f, std::span<const ChatMessage> msgs, const ChatOptions& o) {
  const bool add_generation_prompt = o.add_generation_prompt;
  const std::string_view bos = o.bos_text, eos = o.eos_text;
  std::string s;
  switch (f) {
    case ChatFamily::kQwen3: return render_qwen3(msgs, o);
    case ChatFamily::kDeepSeekV3: return render_deepseek3(msgs, o, false);
    case ChatFamily::kDeepSeekR1: return render_deepseek3(msgs, o, true);
    case ChatFamily::kHarmony: return render_harmony(msgs, o);
    case ChatFamily::kRaw:
      for (const auto& m : msgs) s += m.content + (m.role == "system" ? "\n\n" : "");
      return s;
    case ChatFamily::kChatML:
      for (const auto& m : msgs) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) s += "<|im_start|>assistant\n";
      return s;
    case ChatFamily::kMistral: {
      // Mixtral-Instruct: <s>[INST] {system}\n\n{user} [/INST]{assistant}</s>[INST] ...
      s += bos;
      std::string system;
      for (const auto& m : msgs) {
        if (m.role == "system") {
          system = m.content;
        } else if (m.role == "user") {
          s += "[INST] " + (system.empty() ? "" : system + "\n\n") + m.content + " [/INST]";
          system.clear();
        } else {
          s += m.content + std::string(eos.empty() ? "</s>" : eos);
        }
      }
      return s;
    }
    case ChatFamily::kGranite:
      for (const auto& m : msgs)
        s += "<|start_of_role|>" + m.role + "<|end_of_role|>" + m.content + "<|end_of_text|>\n";
      if (add_generation_prompt) s += "<|start_of_role|>assistant<|end_of_role|>";
      return s;
    case ChatFamily::kTulu:
      // OLMoE-Instruct / Tulu: an assistant turn ends with EOS, and a newline unless it is the last.
      s += bos;
      for (size_t i = 0; i < msgs.size(); ++i) {
        const auto& m = msgs[i];
        s += "<|" + m.role + "|>\n" + m.content;
        if (m.role == "assistant") s += std::string(eos.empty() ? "<|endoftext|>" : eos);
        if (m.role != "assistant" || i + 1 < msgs.size()) s += "\n";
      }
      if (add_generation_prompt) s += "<|assistant|>\n";
      return s;
    case ChatFamily::kLlama3:
      s += bos;
      for (const auto& m : msgs)
        s += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      if (add_generation_prompt) s += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return s;
    case ChatFamily::kDeepSeek:
      s += bos;
      for (const auto& m : msgs) {
        if (m.role == "system") s += m.content + "\n\n";
        else if (m.role == "user") s += "User: " + m.content + "\n\n";
        else s += "Assistant: " + m.content + std::string(eos.empty() ? "<｜end▁of▁sentence｜>" : eos);
      }
      if (add_generation_prompt) s += "Assistant:";
      return s;
  }
  return s;
}

}  // namespace moe
