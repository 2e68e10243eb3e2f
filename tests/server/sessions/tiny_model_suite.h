// The session tests' shared fixture: the test SentencePiece tokenizer and a
// tiny random model over it (segments of 4 tokens, so a few words cross
// several), loaded once per test suite.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"

namespace infini::server {

class TinyModelSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokenizer_ = Tokenizer::load(infini::testing::data_dir() + "/tokenizer/tokenizer.model");
    ModelConfig c = infini::testing::tiny_model_config(tokenizer_->vocab_size(), 16, 1, 4);
    weights_ = new infini::testing::RandomWeights(c, 1, 0.1f, 0.0f);
    model_ = weights_->build();
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete weights_;
    weights_ = nullptr;
  }

  static inline std::shared_ptr<const Tokenizer> tokenizer_;
  static inline std::shared_ptr<const Model> model_;
  static inline infini::testing::RandomWeights* weights_ = nullptr;
};

}  // namespace infini::server
