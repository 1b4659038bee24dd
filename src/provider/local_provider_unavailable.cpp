// Until the engine's runtime is linked into the harness, a `local` provider cannot run.
#include "provider/local_provider.h"
#include "util/error.h"

namespace wobble {

std::unique_ptr<Provider> make_local_provider(const ProviderSpec&, const std::string&) {
  throw RuntimeError(
      "provider kind 'local' (the bundled engine) is not available in this build yet; "
      "use provider.kind: openai with an OpenAI-compatible endpoint");
}

}  // namespace wobble
