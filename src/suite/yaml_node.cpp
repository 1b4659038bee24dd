#include "suite/yaml_node.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "suite/yaml_limits.h"
#include "util/bounded_read.h"
#include "util/error.h"
#include "util/utf8.h"

namespace wobble {
namespace {

// Aliases share nodes, so a few hundred bytes of nested aliases ("billion laughs") expand to
// billions of nodes once anything walks the tree. Documents larger than this once expanded are
// refused; honest suites are far below it.
constexpr uint64_t kMaxExpandedNodes = 1'000'000;

// Counts the nodes and the scalar bytes a document expands to, alias targets counted in full, while
// yaml-cpp reports events and before any tree is built; throws ConfigError at the event that crosses
// a limit, so an amplified document is refused after reading only as much of it as proves the point.
class ExpansionCounter : public YAML::EventHandler {
 public:
  explicit ExpansionCounter(const std::string& file) : file_(file) {}
  void OnDocumentStart(const YAML::Mark& m) override {
    // yaml-cpp 0.7 never gets past a ',' where a block node should start: it reports one empty
    // document after another at the same place, forever (found by fuzz_suite; on main
    // `wobble run` hung). A document that starts where the previous one did is that loop.
    if (documents_++ > 0 && m.pos == last_document_pos_)
      throw ConfigError(file_, m.line + 1, "",
                        "syntax error: unexpected character at column " + std::to_string(m.column + 1) +
                            " (the YAML parser cannot get past it)");
    last_document_pos_ = m.pos;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { leaf(m, a, {1, 0}); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
    auto it = sizes_.find(a);
    leaf(m, 0, it == sizes_.end() ? Size{1, 0} : it->second);
  }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a, const std::string& value) override {
    // Raw bytes and escapes ("\uD800") can both make a scalar that is not UTF-8; every later use
    // (JSON snapshot, schema checks, reports) needs UTF-8, so it is refused here, at its line.
    if (valid_utf8(value) != value)
      throw ConfigError(file_, m.is_null() ? 0 : m.line + 1, "",
                        "text is not valid UTF-8 (suites and rubrics must be UTF-8); refusing to load it");
    leaf(m, a, {1, value.size()});
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a, YAML::EmitterStyle::value) override {
    open(m, a);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a, YAML::EmitterStyle::value) override {
    open(m, a);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Size {
    uint64_t nodes = 0, bytes = 0;
    void add(const Size& o) {  // saturating: an alias's size may be far past the limits
      nodes = std::min(nodes + o.nodes, kMaxExpandedNodes * 2);
      bytes = std::min(bytes + o.bytes, kMaxYamlExpandedBytes * 2);
    }
  };
  void leaf(const YAML::Mark& m, YAML::anchor_t a, Size n) {
    if (a) sizes_[a] = n;
    add(m, n);
    if (!open_.empty()) open_.back().second.add(n);
  }
  void open(const YAML::Mark& m, YAML::anchor_t a) {
    add(m, {1, 0});
    open_.push_back({a, {1, 0}});
  }
  void close() {  // a collection's size (itself and all inside) goes to its anchor and its parent
    if (open_.empty()) return;
    auto [a, n] = open_.back();
    open_.pop_back();
    if (a) sizes_[a] = n;
    if (!open_.empty()) open_.back().second.add(n);
  }
  void add(const YAML::Mark& m, const Size& n) {
    total_.add(n);
    int line = m.is_null() ? 0 : m.line + 1;
    if (total_.nodes > kMaxExpandedNodes)
      throw ConfigError(file_, line, "",
                        "document expands to more than " + std::to_string(kMaxExpandedNodes) +
                            " nodes through aliases; refusing to load it");
    if (total_.bytes > kMaxYamlExpandedBytes)
      throw ConfigError(file_, line, "",
                        "document expands to more than " + describe_byte_limit(kMaxYamlExpandedBytes) +
                            " of text through aliases; refusing to load it");
  }
  const std::string& file_;
  std::vector<std::pair<YAML::anchor_t, Size>> open_;
  std::unordered_map<YAML::anchor_t, Size> sizes_;
  Size total_;
  uint64_t documents_ = 0;
  int last_document_pos_ = -1;
};

// yaml-cpp accepts a quoted scalar that runs to the end of the input: `prompt: "hi` without its
// closing quote swallows the rest of the file into the string, and the loader's next complaint
// would be a misleading "cases: is required". This pass finds each quoted scalar's opening quote
// from the parser's marks (byte offsets after any UTF-8 byte-order mark) and checks that it closes.
class QuoteChecker : public YAML::EventHandler {
 public:
  explicit QuoteChecker(const std::string& text)
      : text_(text), offset_(text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0) {}
  // The line (1-based) and quote character of the first quoted scalar that never closes.
  int unterminated_line() const { return line_; }
  char quote() const { return quote_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t, const std::string&) override {
    if (tag == "?" || line_ || m.is_null() || m.pos < 0) return;  // "?": a plain scalar, never quoted
    size_t p = size_t(m.pos) + offset_;
    // The mark is the node's start: skip a tag (!x) and an anchor (&a) to reach the quote.
    while (p < text_.size() && (text_[p] == '!' || text_[p] == '&')) {
      while (p < text_.size() && !is_space(text_[p])) ++p;
      while (p < text_.size() && is_space(text_[p])) ++p;
    }
    if (p >= text_.size() || (text_[p] != '"' && text_[p] != '\'')) return;  // a block scalar (| or >)
    if (!closes(p)) {
      line_ = m.line + 1;
      quote_ = text_[p];
    }
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  // Double quotes end at an unescaped "; single quotes at a ' that is not doubled ('').
  bool closes(size_t open) const {
    const char q = text_[open];
    for (size_t p = open + 1; p < text_.size(); ++p) {
      if (q == '"' && text_[p] == '\\') {
        ++p;
      } else if (text_[p] == q) {
        if (q == '\'' && p + 1 < text_.size() && text_[p + 1] == '\'') ++p;
        else return true;
      }
    }
    return false;
  }
  const std::string& text_;
  size_t offset_;
  int line_ = 0;
  char quote_ = 0;
};

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string closest_match(const std::string& word, const std::set<std::string>& candidates) {
  std::string best;
  size_t best_d = 4;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

namespace {

// Suite and rubric files must be UTF-8 (as YAML requires): ids and names are stored in JSON
// columns too, where ill-formed bytes could not be kept exactly (util/text_policy.h).
void require_utf8(const std::string& file, const std::string& text) {
  size_t bad = first_invalid_utf8(text);
  if (bad == std::string::npos) return;
  int line = 1 + int(std::count(text.begin(), text.begin() + std::ptrdiff_t(bad), '\n'));
  size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
  size_t column = bad - (line_start == std::string::npos || bad == 0 ? 0 : line_start + 1) + 1;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", unsigned(static_cast<unsigned char>(text[bad])));
  throw ConfigError(file, line, "", "not valid UTF-8 (byte " + std::string(hex) + " at column " +
                                        std::to_string(column) + "); suite and rubric files must be UTF-8");
}

}  // namespace

YamlNode YamlNode::load_file(const std::string& file) { return load_text(file, read_file_bounded(file)); }

YamlNode YamlNode::load_text(const std::string& file, const std::string& text) {
  require_utf8(file, text);
  check_yaml_nesting(file, text);  // before yaml-cpp, which scans and recurses per level first
  std::stringstream ss(text);
  try {
    {
      std::istringstream events(ss.str());
      YAML::Parser parser(events);
      ExpansionCounter counter(file);  // throws ConfigError past a limit
      while (parser.HandleNextDocument(counter)) {
      }
    }
    // Marks are byte offsets only in UTF-8 input; a UTF-16/32 file (it has NUL bytes) is skipped.
    if (const std::string text = ss.str(); text.find('\0') == std::string::npos) {
      std::istringstream events(text);
      YAML::Parser parser(events);
      QuoteChecker quotes(text);
      while (!quotes.unterminated_line() && parser.HandleNextDocument(quotes)) {
      }
      if (int line = quotes.unterminated_line())
        throw ConfigError(file, line, "",
                          std::string("syntax error: the ") + (quotes.quote() == '"' ? "double" : "single") +
                              "-quoted string that starts on this line is never closed (a missing " +
                              quotes.quote() + " swallows the rest of the file)");
    }
    YAML::Node root = YAML::Load(ss.str());
    return YamlNode(root, file, "");
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, e.mark.is_null() ? 0 : e.mark.line + 1, "", "syntax error: " + e.msg);
  }
}

int YamlNode::line() const {
  if (!node_) return 0;
  YAML::Mark m = node_.Mark();
  return m.is_null() ? 0 : m.line + 1;
}

void YamlNode::fail(const std::string& message) const {
  throw ConfigError(file_, line(), path_, message);
}

void YamlNode::expect_map() const {
  if (!node_.IsMap()) fail("expected a mapping (key: value pairs)");
}

std::optional<YamlNode> YamlNode::child(const std::string& key) const {
  expect_map();
  YAML::Node c = node_[key];
  if (!c) return std::nullopt;
  return YamlNode(c, file_, child_path(path_, key));
}

YamlNode YamlNode::required(const std::string& key) const {
  auto c = child(key);
  if (!c || c->is_null()) throw ConfigError(file_, line(), child_path(path_, key), "is required");
  return *c;
}

std::vector<std::string> YamlNode::keys() const {
  expect_map();
  std::vector<std::string> out;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) fail("keys must be plain strings");
    out.push_back(kv.first.Scalar());
  }
  return out;
}

void YamlNode::expect_keys(const std::set<std::string>& allowed) const {
  expect_map();
  std::set<std::string> seen;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) fail("keys must be plain strings");
    std::string key = kv.first.as<std::string>();
    YAML::Mark m = kv.first.Mark();
    int line = m.is_null() ? this->line() : m.line + 1;
    if (!seen.insert(key).second)
      throw ConfigError(file_, line, child_path(path_, key), "duplicate key");
    if (!allowed.count(key)) {
      std::string hint = closest_match(key, allowed);
      throw ConfigError(file_, line, child_path(path_, key),
                        "unknown key" + (hint.empty() ? std::string() : " (did you mean '" + hint + "'?)"));
    }
  }
}

std::vector<YamlNode> YamlNode::items() const {
  if (!node_.IsSequence()) fail("expected a list");
  std::vector<YamlNode> out;
  size_t i = 0;
  for (const auto& item : node_) out.emplace_back(item, file_, path_ + "[" + std::to_string(i++) + "]");
  return out;
}

std::string YamlNode::as_string() const {
  if (!node_.IsScalar()) fail("expected a string");
  return node_.Scalar();
}

double YamlNode::as_double() const {
  std::string s = as_string();
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    fail("expected a number, got '" + s + "'");
  return v;
}

long long YamlNode::as_int() const {
  std::string s = as_string();
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) fail("expected a whole number, got '" + s + "'");
  return v;
}

bool YamlNode::as_bool() const {
  std::string s = as_string();
  if (s == "true" || s == "True" || s == "yes") return true;
  if (s == "false" || s == "False" || s == "no") return false;
  fail("expected true or false, got '" + s + "'");
}

std::vector<std::string> YamlNode::as_string_list() const {
  if (node_.IsScalar()) return {as_string()};
  std::vector<std::string> out;
  for (const auto& item : items()) out.push_back(item.as_string());
  return out;
}

std::optional<std::string> YamlNode::opt_string(const std::string& key) const {
  auto c = child(key);
  if (!c || c->is_null()) return std::nullopt;
  return c->as_string();
}

std::optional<double> YamlNode::opt_double(const std::string& key, double min, double max) const {
  auto c = child(key);
  if (!c || c->is_null()) return std::nullopt;
  double v = c->as_double();
  if (v < min || v > max) {
    std::ostringstream os;
    os << "must be between " << min << " and " << max << ", got " << v;
    c->fail(os.str());
  }
  return v;
}

std::optional<long long> YamlNode::opt_int(const std::string& key, long long min, long long max) const {
  auto c = child(key);
  if (!c || c->is_null()) return std::nullopt;
  long long v = c->as_int();
  if (v < min || v > max)
    c->fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
            std::to_string(v));
  return v;
}

std::optional<bool> YamlNode::opt_bool(const std::string& key) const {
  auto c = child(key);
  if (!c || c->is_null()) return std::nullopt;
  return c->as_bool();
}

}  // namespace wobble
