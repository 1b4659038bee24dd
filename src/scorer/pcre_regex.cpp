#define PCRE2_CODE_UNIT_WIDTH 8
#include "scorer/pcre_regex.h"

#include <pcre2.h>

#include <stdexcept>

namespace wobble {

bool is_valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < n) {
    unsigned char c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

struct PcreRegex::Impl {
  pcre2_code* utf = nullptr;    // UTF + UCP: Unicode-aware classes for valid text
  pcre2_code* bytes = nullptr;  // byte-wise twin for outputs that are not valid UTF-8
  pcre2_match_context* ctx = nullptr;
  ~Impl() {
    if (utf) pcre2_code_free(utf);
    if (bytes) pcre2_code_free(bytes);
    if (ctx) pcre2_match_context_free(ctx);
  }
};

namespace {

pcre2_code* compile(const std::string& pattern, uint32_t options) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                                   &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    throw std::invalid_argument("invalid regex at offset " + std::to_string(offset) + ": " +
                                reinterpret_cast<const char*>(buf));
  }
  return code;
}

}  // namespace

PcreRegex::PcreRegex(const std::string& pattern, bool case_insensitive, bool multiline, bool dotall)
    : impl_(std::make_unique<Impl>()) {
  uint32_t opts = 0;
  if (case_insensitive) opts |= PCRE2_CASELESS;
  if (multiline) opts |= PCRE2_MULTILINE;
  if (dotall) opts |= PCRE2_DOTALL;
  impl_->utf = compile(pattern, opts | PCRE2_UTF | PCRE2_UCP);
  try {
    impl_->bytes = compile(pattern, opts);
  } catch (const std::invalid_argument&) {
    impl_->bytes = nullptr;  // pattern needs UTF (e.g. \x{1F600}); byte subjects then get an error
  }
  impl_->ctx = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(impl_->ctx, kMatchLimit);
  pcre2_set_depth_limit(impl_->ctx, kDepthLimit);
}

PcreRegex::~PcreRegex() = default;

uint32_t PcreRegex::capture_count() const {
  uint32_t n = 0;
  pcre2_pattern_info(impl_->utf, PCRE2_INFO_CAPTURECOUNT, &n);
  return n;
}

RegexResult PcreRegex::search(std::string_view subject, int group, size_t offset) const {
  RegexResult r;
  bool utf = is_valid_utf8(subject);
  pcre2_code* code = utf ? impl_->utf : impl_->bytes;
  if (!code) {
    r.error = true;
    r.message = "output is not valid UTF-8 and the pattern needs UTF mode";
    return r;
  }
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), offset,
                       utf ? 0 : 0, md, impl_->ctx);
  if (rc == PCRE2_ERROR_NOMATCH) {
    pcre2_match_data_free(md);
    return r;
  }
  if (rc < 0) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(rc, buf, sizeof(buf));
    r.error = true;
    r.message = std::string("regex engine stopped: ") + reinterpret_cast<const char*>(buf);
    pcre2_match_data_free(md);
    return r;
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  RegexMatch m;
  m.start = ov[0];
  m.end = ov[1];
  if (group > 0 && group < rc && ov[2 * group] != PCRE2_UNSET)
    m.group = std::make_pair(size_t(ov[2 * group]), size_t(ov[2 * group + 1]));
  r.match = m;
  pcre2_match_data_free(md);
  return r;
}

}  // namespace wobble
