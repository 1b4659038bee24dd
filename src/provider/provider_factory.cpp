#include "provider/local_provider.h"
#include "provider/openai_provider.h"
#include "util/error.h"

namespace wobble {

std::unique_ptr<Provider> make_provider(const ProviderSpec& spec, const std::string& suite_dir) {
  if (spec.kind == "openai") return std::make_unique<OpenAIProvider>(spec);
  if (spec.kind == "local") return make_local_provider(spec, suite_dir);
  throw ConfigError("", 0, "provider.kind", "unknown provider kind '" + spec.kind + "'");
}

}  // namespace wobble
