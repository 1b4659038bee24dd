#include "util/url.h"

namespace wobble {
namespace {

// [begin, end) of the userinfo including its '@'; begin == end when there is none.
std::pair<size_t, size_t> userinfo_range(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {0, 0};
  size_t begin = scheme + 3;
  size_t authority_end = url.find_first_of("/?#", begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  size_t at = url.substr(begin, authority_end - begin).rfind('@');
  if (at == std::string_view::npos) return {0, 0};
  return {begin, begin + at + 1};
}

}  // namespace

std::string url_without_userinfo(std::string_view url) {
  auto [b, e] = userinfo_range(url);
  std::string out(url.substr(0, b));
  out += url.substr(e);
  return out;
}

bool url_has_userinfo(std::string_view url) {
  auto [b, e] = userinfo_range(url);
  return e > b;
}

}  // namespace wobble
