// Chat templates of the supported families, written out by hand from each family's published
// template. Detection looks for each family's distinctive markers in tokenizer.chat_template.
#include "moe/chat_template.h"

namespace moe {
namespace {

struct FamilyName {
  ChatFamily family;
  const char* name;
};
constexpr FamilyName kNames[] = {{ChatFamily::kRaw, "raw"},         {ChatFamily::kChatML, "chatml"},
                                 {ChatFamily::kMistral, "mistral"}, {ChatFamily::kGranite, "granite"},
                                 {ChatFamily::kTulu, "tulu"},       {ChatFamily::kLlama3, "llama3"},
                                 {ChatFamily::kDeepSeek, "deepseek"}};

}  // namespace

Result<ChatFamily> chat_family_from_name(std::string_view name) {
  for (const auto& f : kNames)
    if (name == f.name) return f.family;
  return Status::InvalidArgument("unknown chat template '" + std::string(name) +
                                 "' (raw, chatml, mistral, granite, tulu, llama3, deepseek)");
}

const char* chat_family_name(ChatFamily f) {
  for (const auto& n : kNames)
    if (n.family == f) return n.name;
  return "raw";
}

ChatFamily detect_chat_family(std::string_view t) {
  auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  if (has("<|im_start|>")) return ChatFamily::kChatML;
  if (has("<|start_header_id|>")) return ChatFamily::kLlama3;
  if (has("<|start_of_role|>")) return ChatFamily::kGranite;
  if (has("[INST]")) return ChatFamily::kMistral;
  if (has("<|user|>") && has("<|assistant|>")) return ChatFamily::kTulu;
  if (has("### Instruction") || has("<｜User｜>") || has("User: ")) return ChatFamily::kDeepSeek;
  return ChatFamily::kRaw;
}

std::string render_chat(ChatFamily f, std::span<const ChatMessage> msgs, bool add_generation_prompt,
                        std::string_view bos, std::string_view eos) {
  std::string s;
  switch (f) {
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
