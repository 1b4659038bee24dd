// The bundled MoE engine as a Provider (kind `local`).
#pragma once

#include <memory>
#include <string>

#include "provider/provider.h"

namespace wobble {

// Loads the model once; throws RuntimeError when the GGUF cannot be loaded.
std::unique_ptr<Provider> make_local_provider(const ProviderSpec& spec, const std::string& suite_dir);

}  // namespace wobble
