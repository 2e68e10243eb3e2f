// The shared fixture of tests that read documents (DocumentReader, sessions): the test SentencePiece tokenizer and a
// tiny random model over it (segments of 4 tokens, so a few words cross
// several), loaded once per test suite.
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

}  // namespace infini::testing
