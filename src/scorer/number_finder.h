// Finding numbers in free text: "-12", "3.5", "1,234", "1e-3". Used by the numeric scorer and the
// `number` answer extractor.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wobble {

struct FoundNumber {
  double value = 0;
  size_t start = 0, end = 0;  // byte span in the text
};

std::optional<double> parse_number(std::string_view text);  // whole text (trimmed) must be a number
std::optional<FoundNumber> first_number(std::string_view text);
std::optional<FoundNumber> last_number(std::string_view text);

}  // namespace wobble
