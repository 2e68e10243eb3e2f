// Generation on a fork: streamed deltas, stop strings, limits, cancellation,
// and the document state left untouched. A random model makes arbitrary but
// deterministic text, which is all these properties need.
#include "engine/generator.h"

#include <gtest/gtest.h>

#include <map>

#include "engine/checkpoint_writer.h"
#include "engine/error.h"
#include "tests/engine/random_model.h"
#include "tests/engine/tiny_model_suite.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

class GeneratorTest : public infini::testing::GenerationModelSuite {
 protected:
  static void SetUpTestSuite() {
    set_up(Tokenizer::load(testing::data_dir() + "/tokenizer/tokenizer.model"),
           9, 0.3f);
  }

  SessionState document() const {
    SessionState s = model_->new_session();
    model_->ingest(s, tokenizer_->encode("The pass key is 12345. Remember it. The grass is green."));
    return s;
  }

  GenerationResult generate_text(GenerationRequest request, std::string* streamed = nullptr) {
    SessionState doc = document();
    SessionState fork = doc.fork();
    std::string deltas;
    auto result = generate(*model_, *tokenizer_, fork, request, [&](std::string_view t) {
      deltas += t;
      return true;
    });
    if (streamed) *streamed = deltas;
    return result;
  }

  static GenerationRequest request(int max_tokens) {
    GenerationRequest r;
    r.prompt = tokenizer_->encode("Question: what is the pass key? Answer:");
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    return r;
  }

};

TEST_F(GeneratorTest, StreamedDeltasMakeTheText) {
  std::string streamed;
  auto r = generate_text(request(20), &streamed);
  EXPECT_EQ(r.finish, FinishReason::kLength);
  EXPECT_EQ(r.generated_tokens, 20);
  EXPECT_EQ(streamed, r.text);
  EXPECT_FALSE(r.text.empty());
  EXPECT_GT(r.prompt_tokens, 0);
  EXPECT_LE(r.first_token_seconds, r.total_seconds);
}

TEST_F(GeneratorTest, GreedyIsDeterministicAndSeedsMatter) {
  EXPECT_EQ(generate_text(request(12)).text, generate_text(request(12)).text);
  auto sampled = request(12);
  sampled.sampling.temperature = 1.0f;
  sampled.sampling.seed = 1;
  const auto a = generate_text(sampled).text;
  EXPECT_EQ(a, generate_text(sampled).text);
  sampled.sampling.seed = 2;
  EXPECT_NE(a, generate_text(sampled).text);
}

TEST_F(GeneratorTest, StopStringCutsTheTextBeforeIt) {
  const std::string full = generate_text(request(30)).text;
  ASSERT_GE(full.size(), 12u) << full;
  const std::string stop = full.substr(8, 3);
  auto r = request(30);
  r.stop = {stop, "zzzz-not-there"};
  std::string streamed;
  auto result = generate_text(r, &streamed);
  EXPECT_EQ(result.finish, FinishReason::kStop);
  EXPECT_EQ(result.text, full.substr(0, full.find(stop)));
  EXPECT_EQ(streamed, result.text) << "held-back text must never leak a stop string's prefix";
}

TEST_F(GeneratorTest, CancellationStopsEarly) {
  SessionState fork = document().fork();
  int calls = 0;
  auto result = generate(*model_, *tokenizer_, fork, request(50), [&](std::string_view) {
    return ++calls < 2;
  });
  EXPECT_EQ(result.finish, FinishReason::kCancelled);
  EXPECT_LT(result.generated_tokens, 50);
}

TEST_F(GeneratorTest, AskingLeavesTheDocumentUntouched) {
  SessionState doc = document();
  const auto before = doc.to_host();
  SessionState fork = doc.fork();
  generate(*model_, *tokenizer_, fork, request(25), [](std::string_view) { return true; });
  EXPECT_EQ(doc.to_host(), before);
  EXPECT_GT(fork.tokens(), doc.tokens());
}

TEST_F(GeneratorTest, EndOfTextFinishesUnlessIgnored) {
  auto r = request(40);
  r.ignore_eos = false;
  auto result = generate_text(r);
  if (result.finish == FinishReason::kEndOfText) {
    EXPECT_LT(result.generated_tokens, 40);
  } else {
    EXPECT_EQ(result.finish, FinishReason::kLength);
  }
  r.ignore_eos = true;
  EXPECT_EQ(generate_text(r).generated_tokens, 40);
}

TEST_F(GeneratorTest, BadRequestsAreRejected) {
  SessionState fork = document().fork();
  auto noop = [](std::string_view) { return true; };
  auto r = request(0);
  EXPECT_THROW(generate(*model_, *tokenizer_, fork, r, noop), EngineError);
  r = request(5);
  r.prompt.clear();
  EXPECT_THROW(generate(*model_, *tokenizer_, fork, r, noop), EngineError);
  r = request(5);
  r.stop = {""};
  EXPECT_THROW(generate(*model_, *tokenizer_, fork, r, noop), EngineError);
  r = request(5);
  r.sampling.top_p = 2.0f;
  EXPECT_THROW(generate(*model_, *tokenizer_, fork, r, noop), EngineError);
}

}  // namespace
}  // namespace infini

namespace infini {
namespace {

TEST(GeneratorPaddedVocabTest, IdsPastTheTokenizerAreNeverSampled) {
  auto tokenizer = Tokenizer::load(testing::data_dir() + "/tokenizer/tokenizer.model");
  ModelConfig c;
  c.vocab_size = tokenizer->vocab_size() + 64;  // padded, as many checkpoints are
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 8;
  c.segment_size = 8;
  auto tensors = random_weights(c, 3, 0.2f, 0.0f, false);
  // A bias that makes every padded id the most likely one.
  NamedTensor bias{"lm_head.bias", {c.vocab_size}, std::vector<float>(c.vocab_size, 0.0f)};
  for (int64_t i = tokenizer->vocab_size(); i < c.vocab_size; ++i) bias.values[i] = 1000.0f;
  tensors.push_back(bias);
  std::map<std::string, TensorView> views;
  for (const auto& t : tensors) views[t.name] = TensorView{DType::kF32, t.shape, t.values.data()};
  LoadOptions options;
  options.dtype = ComputeDType::kF32;
  auto model = Model::build(
      c,
      [&views](const std::string& n) -> const TensorView* {
        auto it = views.find(n);
        return it == views.end() ? nullptr : &it->second;
      },
      options, "padded");
  SessionState s = model->new_session();
  GenerationRequest r;
  r.prompt = tokenizer->encode("Hello there");
  r.max_tokens = 10;
  r.ignore_eos = true;
  GenerationResult result;
  ASSERT_NO_THROW(result = generate(*model, *tokenizer, s, r, [](std::string_view) { return true; }));
  EXPECT_EQ(result.generated_tokens, 10);
}

// A chat model's end-of-turn ids: a sampled stop id ends generation with
// "stop" and is neither text nor counted; ignore_eos does not turn them off.
TEST_F(GeneratorTest, StopIdsEndGenerationWithoutEmittingThem) {
  const std::string first = generate_text(request(1)).text;
  // Every id but those of the first token's text: greedy decoding emits
  // that token, then stops at the first other one.
  GenerationRequest r = request(12);
  for (int32_t id = 0; id < tokenizer_->vocab_size(); ++id) {
    if (tokenizer_->decode({id}) != first) r.stop_ids.push_back(id);
  }
  std::string streamed;
  const GenerationResult stopped = generate_text(r, &streamed);
  EXPECT_EQ(stopped.finish, FinishReason::kStop);
  ASSERT_GE(stopped.generated_tokens, 1);
  ASSERT_LT(stopped.generated_tokens, 12);
  std::string expected;
  for (int64_t i = 0; i < stopped.generated_tokens; ++i) expected += first;
  EXPECT_EQ(stopped.text, expected);
  EXPECT_EQ(streamed, expected);
}

}  // namespace
}  // namespace infini
