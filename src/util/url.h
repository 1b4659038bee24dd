// URL hygiene for provider endpoints: credentials never travel in a base URL.
//
// A userinfo part (`http://user:sk-...@host/v1`) is removed wherever a base URL is loaded, stored,
// printed or used: the suite loader strips it with a warning that keys belong in api_key_env, the
// provider record and the model id are built from the stripped URL, and the HTTP provider strips
// it again before connecting, so such credentials are never sent either (not even as Basic auth).
#pragma once

#include <string>
#include <string_view>

namespace wobble {

// The URL without its userinfo (everything between "scheme://" and the last '@' of the
// authority). A URL without "://" or without userinfo is returned unchanged.
std::string url_without_userinfo(std::string_view url);

// True when url carries a userinfo part.
bool url_has_userinfo(std::string_view url);

}  // namespace wobble
