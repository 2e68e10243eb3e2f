// Named model shapes for `infini bench --shape`.
#pragma once

#include <string>

#include "engine/model_config.h"

namespace infini::tool {

// Throws std::invalid_argument for an unknown name.
ModelConfig bench_shape(const std::string& name);

}  // namespace infini::tool
