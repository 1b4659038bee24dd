#include "judge/judge_reply_grammar.h"

#include <algorithm>

namespace wobble {
namespace {

constexpr std::string_view kOpen = "{\"verdict\": ";
constexpr std::string_view kEvidence = ", \"evidence\": [";
constexpr std::string_view kNextQuote = " \"";
constexpr std::string_view kReason = ", \"reason\": \"";
constexpr std::string_view kClose = "}";
// Bytes of the shortest quote that always closes: a quote mark, one character (up to 4 bytes), a
// quote mark. Counted generously so a budget check never paints the reply into a corner.
constexpr size_t kShortestQuote = 6;
constexpr size_t kAfterEvidence = 1 + kReason.size() + 1 + kClose.size();  // ] , "reason": " " }

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Whether `s` (which starts on a character) ends on a whole UTF-8 character.
bool ends_whole(const std::string& s) {
  size_t i = s.size();
  size_t cont = 0;
  while (i > 0 && is_continuation(static_cast<unsigned char>(s[i - 1])) && cont < 4) --i, ++cont;
  if (i == 0) return cont == 0;
  unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  size_t want = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  return cont == want;
}

class ReplyState : public GrammarState {
 public:
  ReplyState(const JudgeReplyGrammar& g, int max_tokens)
      : g_(&g), tokens_left_(max_tokens > 0 ? int64_t(max_tokens) : -1) {
    enter_literal(kOpen, Phase::kVerdict);
    // A budget the shortest reply does not fit in cannot be honoured: leave it unchecked.
    if (tokens_left_ >= 0 && int64_t(min_finish()) > tokens_left_) tokens_left_ = -1;
  }

  bool accepts(std::string_view bytes) const override {
    if (bytes.empty()) return false;
    ReplyState next = *this;
    for (char c : bytes)
      if (!next.feed(static_cast<unsigned char>(c))) return false;
    // Every token adds at least one byte, so the reply can still end within the token budget
    // when what it needs at least fits in the tokens left after this one.
    if (tokens_left_ >= 0 && int64_t(next.min_finish()) > tokens_left_ - 1) return false;
    return true;
  }

  void advance(std::string_view bytes) override {
    for (char c : bytes) feed(static_cast<unsigned char>(c));
    if (tokens_left_ > 0) --tokens_left_;
  }

  bool complete() const override { return phase_ == Phase::kDone; }

 private:
  enum class Phase { kLiteral, kVerdict, kEvidenceOpen, kQuote, kQuoteEscape, kEvidenceAfter, kReason, kDone };

  void enter_literal(std::string_view lit, Phase then) {
    phase_ = Phase::kLiteral;
    literal_ = lit;
    literal_pos_ = 0;
    after_literal_ = then;
  }

  bool feed(unsigned char c) {
    switch (phase_) {
      case Phase::kLiteral:
        if (literal_pos_ >= literal_.size() || static_cast<unsigned char>(literal_[literal_pos_]) != c) return false;
        if (++literal_pos_ == literal_.size()) phase_ = after_literal_;
        return true;
      case Phase::kVerdict: {
        verdict_ += char(c);
        const JudgeReplyGrammar::Verdict* whole = nullptr;
        bool prefix = false;
        for (const auto& v : g_->verdicts()) {
          if (v.literal.compare(0, verdict_.size(), verdict_) == 0) prefix = true;
          if (v.literal == verdict_) whole = &v;
        }
        if (!prefix) return false;
        if (whole) {
          // An output with nothing visible cannot be quoted: a fail of it is left to the evidence
          // rule (an unquoted-fail fault), never turned into a pass by the grammar.
          needs_quote_ = whole->needs_quote && g_->quotable();
          enter_literal(kEvidence, Phase::kEvidenceOpen);
        }
        return true;
      }
      case Phase::kEvidenceOpen:
        if (c == '"') return open_quote();
        if (c == ']' && !needs_quote_) return enter_literal(kReason, Phase::kReason), true;
        return false;
      case Phase::kEvidenceAfter:
        if (c == ']') return enter_literal(kReason, Phase::kReason), true;
        if (c == ',' && quotes_ < JudgeReplyGrammar::kMaxQuotes) return enter_literal(kNextQuote, Phase::kQuote), open_quote_state(), true;
        return false;
      case Phase::kQuote:
        if (c == '"') {
          if (!visible_ || !ends_whole(quote_)) return false;
          ++quotes_;
          phase_ = Phase::kEvidenceAfter;
          return true;
        }
        if (c == '\\') {
          // Only when the output goes on with a character that is written escaped.
          bool any = false;
          for (unsigned char d : {'\n', '\t', '\r', '"', '\\', '/'}) any = any || next_first(d) != std::string::npos;
          if (!any) return false;
          phase_ = Phase::kQuoteEscape;
          return true;
        }
        if (c < 0x20) return false;  // JSON needs it escaped
        return extend_quote(c);
      case Phase::kQuoteEscape: {
        unsigned char d;
        switch (c) {
          case 'n': d = '\n'; break;
          case 't': d = '\t'; break;
          case 'r': d = '\r'; break;
          case '"': d = '"'; break;
          case '\\': d = '\\'; break;
          case '/': d = '/'; break;
          default: return false;
        }
        phase_ = Phase::kQuote;
        return extend_quote(d);
      }
      case Phase::kReason:
        if (c == '"') return enter_literal(kClose, Phase::kDone), true;
        if (c < 0x20 || c > 0x7E || c == '\\' || reason_bytes_ >= JudgeReplyGrammar::kMaxReasonBytes) return false;
        ++reason_bytes_;
        return true;
      case Phase::kDone:
        return false;
    }
    return false;
  }

  bool open_quote() {
    if (quotes_ >= JudgeReplyGrammar::kMaxQuotes || !g_->quotable()) return false;
    phase_ = Phase::kQuote;
    open_quote_state();
    return true;
  }
  void open_quote_state() {
    quote_.clear();
    first_ = 0;
    visible_ = false;
  }

  // Where the open quote extended by d first occurs in the output; npos when nowhere (or too long).
  size_t next_first(unsigned char d) const {
    if (quote_.size() >= JudgeReplyGrammar::kMaxQuoteBytes) return std::string::npos;
    if (quote_.empty() && is_continuation(d)) return std::string::npos;  // would start inside a character
    const std::string& out = g_->output();
    if (quote_.empty()) return out.find(char(d));
    if (first_ + quote_.size() < out.size() && static_cast<unsigned char>(out[first_ + quote_.size()]) == d) return first_;
    // Every later occurrence of the longer quote is an occurrence of the shorter one, and the
    // shorter one first occurs at first_: search on from there.
    return out.find(quote_ + char(d), first_ + 1);
  }

  bool extend_quote(unsigned char d) {
    size_t at = next_first(d);
    if (at == std::string::npos) return false;
    first_ = at;
    quote_ += char(d);
    if (!is_evidence_space(d)) visible_ = true;
    return true;
  }

  // Bytes the shortest way to a complete reply still needs (an upper bound where a quote is open).
  size_t min_finish() const {
    // From the start of phase p (the state of the phases before it as it is now).
    auto from = [&](Phase p) -> size_t {
      switch (p) {
        case Phase::kVerdict: {
          size_t best = SIZE_MAX;
          for (const auto& v : g_->verdicts())
            if (v.literal.compare(0, verdict_.size(), verdict_) == 0)
              best = std::min(best, v.literal.size() - verdict_.size() + kEvidence.size() +
                                        (v.needs_quote && g_->quotable() ? kShortestQuote + kAfterEvidence : kAfterEvidence));
          return best == SIZE_MAX ? 0 : best;
        }
        case Phase::kEvidenceOpen: return needs_quote_ ? kShortestQuote + kAfterEvidence : kAfterEvidence;
        case Phase::kQuote:
        case Phase::kQuoteEscape: return bytes_to_close() + kAfterEvidence;
        case Phase::kEvidenceAfter: return kAfterEvidence;
        case Phase::kReason: return 1 + kClose.size();
        default: return 0;
      }
    };
    if (phase_ != Phase::kLiteral) return from(phase_);
    // A literal's tail, then the phase after it from its start. A quote that a literal opens (the
    // literal ends with its opening mark) is a fresh one: the shortest quote less that mark.
    const size_t rest = literal_.size() - literal_pos_;
    return rest + (after_literal_ == Phase::kQuote ? kShortestQuote - 1 + kAfterEvidence : from(after_literal_));
  }

  // Bytes until the open quote can close, going on along its first occurrence in the output (a
  // path that always exists): the escape's letter, escaped characters counted twice, up to a
  // visible whole character, plus the closing mark.
  size_t bytes_to_close() const {
    const std::string& out = g_->output();
    size_t pos = first_ + quote_.size(), need = 0;
    bool vis = visible_;
    if (phase_ == Phase::kQuoteEscape) {
      if (pos >= out.size()) return kUnreachable;
      vis = vis || !is_evidence_space(static_cast<unsigned char>(out[pos]));
      ++pos, ++need;
    } else if (vis && ends_whole(quote_)) {
      return 1;
    }
    while (!(vis && (pos >= out.size() || !is_continuation(static_cast<unsigned char>(out[pos]))))) {
      if (pos >= out.size()) return kUnreachable;
      unsigned char d = static_cast<unsigned char>(out[pos++]);
      if (d < 0x20 && d != '\n' && d != '\t' && d != '\r') return kUnreachable;
      need += (d == '"' || d == '\\' || d < 0x20) ? 2 : 1;
      vis = vis || !is_evidence_space(d);
    }
    return need + 1;
  }
  static constexpr size_t kUnreachable = size_t(1) << 20;

  const JudgeReplyGrammar* g_;
  int64_t tokens_left_;  // -1: no budget
  Phase phase_ = Phase::kLiteral;
  std::string_view literal_;
  size_t literal_pos_ = 0;
  Phase after_literal_ = Phase::kDone;
  std::string verdict_;
  bool needs_quote_ = false;
  size_t quotes_ = 0;
  std::string quote_;  // decoded content of the open quote
  size_t first_ = 0;   // its first occurrence in the output
  bool visible_ = false;
  size_t reason_bytes_ = 0;
};

}  // namespace

JudgeReplyGrammar::JudgeReplyGrammar(const JudgeCriterion& c, std::string output) : output_(std::move(output)) {
  quotable_ = std::any_of(output_.begin(), output_.end(), [](char b) { return !is_evidence_space(static_cast<unsigned char>(b)); });
  if (c.five_point) {
    for (int p = 1; p <= 5; ++p)
      verdicts_.push_back({std::to_string(p), p < c.threshold && !c.expect_missing});
  } else {
    verdicts_.push_back({"\"pass\"", false});
    verdicts_.push_back({"\"fail\"", !c.expect_missing});
  }
}

std::unique_ptr<GrammarState> JudgeReplyGrammar::start(int max_tokens) const {
  return std::make_unique<ReplyState>(*this, max_tokens);
}

}  // namespace wobble
