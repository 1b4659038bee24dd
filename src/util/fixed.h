// Decimal text of a number with a fixed count of decimals ("%.Nf"), locale-independent in the
// C locale the CLI runs in. Used where reports print figures that must match the database's
// values to the stated precision.
#pragma once

#include <cstdio>
#include <string>

namespace wobble {

inline std::string fixed(double x, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, x);
  return b;
}

}  // namespace wobble
