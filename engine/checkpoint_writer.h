// Writes a Hugging Face-style checkpoint (config.json + model.safetensors).
// Used by `infini make-model` and by tests that need a model on disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/safetensors.h"

namespace infini {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // stored as `dtype` when written
};

// Writes `tensors` to a .safetensors file, converting to `dtype`.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       DType dtype);

// Random weights for `config` (normal(0, init_std), norms at 1, gates at
// `gate_logit`), reproducible from `seed`.
std::vector<NamedTensor> random_weights(const ModelConfig& config, uint64_t seed,
                                        float init_std, float gate_logit, bool with_bias);

// Creates `dir` and writes config.json and model.safetensors into it.
void write_checkpoint(const std::string& dir, const ModelConfig& config,
                      const std::vector<NamedTensor>& tensors, DType dtype);

}  // namespace infini
