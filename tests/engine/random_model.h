// A small model on random weights, built in memory without files
// (Model::build): the fixture of the engine, server and tool tests that need
// a real model but not a particular one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/checkpoint_writer.h"
#include "engine/model.h"

namespace infini::testing {

// The small shape most of these tests use: hidden 32 as 4 heads of 8 over
// 2 KV heads, SwiGLU of 48, 2 layers; the vocabulary, segment and memory
// update as given.
inline ModelConfig small_model_config(int64_t vocab_size, int64_t segment_size,
                                      MemoryUpdate update) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.segment_size = segment_size;
  c.memory_update = update;
  return c;
}

// A tinier shape: 2 heads of hidden / 2 over one KV head, SwiGLU of
// 2 * hidden.
inline ModelConfig tiny_model_config(int64_t vocab_size, int64_t hidden_size, int64_t num_layers,
                                     int64_t segment_size) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.hidden_size = hidden_size;
  c.intermediate_size = 2 * hidden_size;
  c.num_layers = num_layers;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = hidden_size / 2;
  c.segment_size = segment_size;
  return c;
}

// `n` token ids below `vocab_size`, reproducible from `seed`.
inline std::vector<int32_t> random_ids(size_t n, int64_t vocab_size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab_size));
  return ids;
}

// random_weights(config, seed, init_std, gate_logit) held in memory, and
// models built on them; several models (other dtypes, memory off) may share
// one set of weights.
class RandomWeights {
 public:
  RandomWeights(const ModelConfig& config, uint64_t seed, float init_std, float gate_logit)
      : config_(config), tensors_(random_weights(config, seed, init_std, gate_logit, false)) {
    for (const auto& t : tensors_) {
      views_[t.name] = TensorView{DType::kF32, t.shape, t.values.data()};
    }
  }
  RandomWeights(const RandomWeights&) = delete;
  RandomWeights& operator=(const RandomWeights&) = delete;

  std::shared_ptr<const Model> build(const LoadOptions& options = {}) const {
    return Model::build(
        config_,
        [this](const std::string& name) -> const TensorView* {
          auto it = views_.find(name);
          return it == views_.end() ? nullptr : &it->second;
        },
        options, "test");
  }

 private:
  ModelConfig config_;
  std::vector<NamedTensor> tensors_;
  std::map<std::string, TensorView> views_;
};

// One model on its own random weights, which live as long as it does.
class RandomModel {
 public:
  RandomModel(const ModelConfig& config, uint64_t seed, float init_std, float gate_logit,
              const LoadOptions& options = {})
      : weights_(config, seed, init_std, gate_logit), model_(weights_.build(options)) {}

  const std::shared_ptr<const Model>& shared() const { return model_; }
  const Model& operator*() const { return *model_; }
  const Model* operator->() const { return model_.get(); }

 private:
  RandomWeights weights_;
  std::shared_ptr<const Model> model_;
};

}  // namespace infini::testing
