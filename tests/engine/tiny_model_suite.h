// Shared fixtures of engine tests, each loaded once per test suite.
// TinyModelSuite, for tests that read documents (DocumentReader, sessions):
// the test SentencePiece tokenizer and a tiny random model over it
// (segments of 4 tokens, so a few words cross several).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"

namespace infini::testing {

class TinyModelSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokenizer_ = Tokenizer::load(data_dir() + "/tokenizer/tokenizer.model");
    ModelConfig c = tiny_model_config(tokenizer_->vocab_size(), 16, 1, 4);
    weights_ = new RandomWeights(c, 1, 0.1f, 0.0f);
    model_ = weights_->build();
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete weights_;
    weights_ = nullptr;
  }

  static inline std::shared_ptr<const Tokenizer> tokenizer_;
  static inline std::shared_ptr<const Model> model_;
  static inline RandomWeights* weights_ = nullptr;
};

// The fixture of the generation tests (one answer alone, answers decoded
// together, generation through a Hugging Face tokenizer): hidden 32 in 2
// layers, segments of 8, delta memory, float32, over the tokenizer the
// suite passes to set_up, with weights of std `init_std` from `seed`.
class GenerationModelSuite : public ::testing::Test {
 protected:
  static void set_up(std::shared_ptr<const Tokenizer> tokenizer, uint64_t seed, float init_std) {
    tokenizer_ = std::move(tokenizer);
    ModelConfig c = tiny_model_config(tokenizer_->vocab_size(), 32, 2, 8);
    c.memory_update = MemoryUpdate::kDelta;
    weights_ = new RandomWeights(c, seed, init_std, 0.0f);
    LoadOptions options;
    options.dtype = ComputeDType::kF32;
    model_ = weights_->build(options);
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete weights_;
    weights_ = nullptr;
  }

  static inline std::shared_ptr<const Tokenizer> tokenizer_;
  static inline std::shared_ptr<const Model> model_;
  static inline RandomWeights* weights_ = nullptr;
};

}  // namespace infini::testing
