// The "memory off" baseline of `infini eval` reads only the document's ids
// from its last segment boundary on. With the gate forced to 0 that is exact:
// these tests compare the logits and the greedy text of the full feed with
// the shortcut on small random models.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/checkpoint_writer.h"
#include "engine/model.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"
#include "tools/infini/eval_runner.h"

namespace infini::tool {
namespace {

using infini::testing::relative_error;

const std::string kTokenizer = std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model";

ModelConfig small_config(MemoryUpdate update) {
  return testing::small_model_config(97, 8, update);
}

// One set of random weights (with trained-looking gates, memory_gate = 0.3)
// built twice: as they are, and with the memory-off options.
using Weights = testing::RandomWeights;

using testing::random_ids;

// Logits of `prompt` after reading `document` in chunks of `chunk` ids.
std::vector<float> prompt_logits(const Model& model, std::span<const int32_t> document,
                                 const std::vector<int32_t>& prompt, size_t chunk) {
  SessionState state = model.new_session();
  for (size_t at = 0; at < document.size(); at += chunk) {
    model.ingest(state, document.subspan(at, std::min(chunk, document.size() - at)));
  }
  return model.logits_all(state, prompt);
}

TEST(EvalMemoryOffTest, SkipsWholeSegmentsOnly) {
  EXPECT_EQ(memory_off_start(45, 8), 40u);
  EXPECT_EQ(memory_off_start(48, 8), 48u);
  EXPECT_EQ(memory_off_start(7, 8), 0u);
  EXPECT_EQ(last_segment_start(45, 8), 37u);
  EXPECT_EQ(last_segment_start(5, 8), 0u);
  const LoadOptions off = memory_off_options(LoadOptions{});
  EXPECT_TRUE(off.force_gate);
  ASSERT_TRUE(off.gate.has_value());
  EXPECT_GT(*off.gate, 0.0f);  // the engine takes a gate strictly inside (0, 1)
}

struct Case {
  MemoryUpdate update;
  ComputeDType dtype;
};

class EvalMemoryOffShortcutTest : public ::testing::TestWithParam<Case> {};

TEST_P(EvalMemoryOffShortcutTest, ShortcutGivesTheLogitsOfTheFullFeed) {
  const ModelConfig config = small_config(GetParam().update);
  const Weights weights(config, 5, 0.2f, 0.3f);
  LoadOptions options;
  options.dtype = GetParam().dtype;
  const auto memory_on = weights.build(options);
  const auto memory_off = weights.build(memory_off_options(options));

  // 13 tokens of prompt: the prompt itself crosses segment boundaries.
  const auto prompt = random_ids(13, config.vocab_size, 2);
  for (const size_t length : {45u, 48u, 83u}) {
    const auto document = random_ids(length, config.vocab_size, 100 + length);
    const std::span<const int32_t> all(document);
    const auto tail = all.subspan(memory_off_start(length, config.segment_size));

    // Fed whole, both runs cut the same pieces at the same segment offsets:
    // the logits are equal to the bit.
    const auto full = prompt_logits(*memory_off, all, prompt, length);
    const auto shortcut = prompt_logits(*memory_off, tail, prompt, length);
    EXPECT_EQ(full, shortcut) << "document of " << length << " tokens";
    // In other chunks, equal to the tolerance of any re-chunking (model_test:
    // bf16 rounds query blocks differently).
    const double tol = GetParam().dtype == ComputeDType::kF32 ? 1e-5 : 3e-2;
    EXPECT_LT(relative_error(prompt_logits(*memory_off, all, prompt, 3), shortcut), tol)
        << "document of " << length << " tokens";

    // The test can fail: with memory on, what came before the last segment
    // matters.
    EXPECT_GT(relative_error(prompt_logits(*memory_on, tail, prompt, length),
                             prompt_logits(*memory_on, all, prompt, length)),
              1e-3)
        << "document of " << length << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(UpdatesAndDTypes, EvalMemoryOffShortcutTest,
                         ::testing::Values(Case{MemoryUpdate::kDelta, ComputeDType::kF32},
                                           Case{MemoryUpdate::kLinear, ComputeDType::kF32},
                                           Case{MemoryUpdate::kDelta, ComputeDType::kBF16}));

TEST(EvalMemoryOffTest, ShortcutGeneratesTheSameGreedyText) {
  const ModelConfig config = small_config(MemoryUpdate::kDelta);
  const Weights weights(config, 5, 0.2f, 0.3f);
  const auto memory_off = weights.build(memory_off_options(LoadOptions{}));
  const auto tokenizer = Tokenizer::load(kTokenizer);
  const auto document = random_ids(61, config.vocab_size, 7);
  const auto prompt = random_ids(5, config.vocab_size, 8);
  const std::span<const int32_t> all(document);
  // 20 new tokens cross two more segment boundaries.
  const AnswerRun full = answer_after(*memory_off, *tokenizer, all, prompt, 20, {});
  const AnswerRun shortcut =
      answer_after(*memory_off, *tokenizer,
                   all.subspan(memory_off_start(all.size(), config.segment_size)), prompt, 20, {});
  EXPECT_FALSE(full.text.empty());
  EXPECT_EQ(full.text, shortcut.text);
  EXPECT_EQ(full.tokens_read, 61);
  EXPECT_EQ(shortcut.tokens_read, 61 - 56);
  EXPECT_EQ(full.state_bytes, shortcut.state_bytes);
}

TEST(EvalMemoryOffTest, DocumentIdsAreWhatTheServerEncodes) {
  const auto tokenizer = Tokenizer::load(kTokenizer);
  // Longer than one 64 KiB chunk, so the streaming encoder cuts it.
  std::string document = "There is an important info hidden inside a lot of irrelevant text.";
  while (document.size() < 150 * 1024) {
    document += " The grass is green. The pass key is 12345. Remember it. 12345 is the pass key.";
  }
  EXPECT_EQ(encode_document(tokenizer, "<doc>", document), tokenizer->encode("<doc>" + document));
  EXPECT_EQ(encode_document(tokenizer, "", document), tokenizer->encode(document));
}

}  // namespace
}  // namespace infini::tool
