// The database schema as an ordered list of migrations. Migration i (1-based) takes a database
// from user_version i-1 to i. Never edit a released migration; append a new one.
#pragma once

#include <vector>

namespace wobble {

const std::vector<const char*>& schema_migrations();

}  // namespace wobble
