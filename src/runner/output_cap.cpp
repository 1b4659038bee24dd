#include "runner/output_cap.h"

#include "util/utf8.h"

namespace wobble {

int64_t cap_output(std::string& text, size_t max_bytes, std::string& finish_reason) {
  if (text.size() <= max_bytes) return -1;
  const int64_t original = int64_t(text.size());
  text.resize(utf8_floor(text, max_bytes));
  text.shrink_to_fit();
  finish_reason = kFinishTruncatedByWobble;
  return original;
}

}  // namespace wobble
