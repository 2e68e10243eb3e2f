// The shipped demo model (models/demo) answers through the C++ engine: a
// passkey document, read segment by segment, gives back its key. A few
// seconds, not the evaluation (that is `infini eval`, whose figures are in
// the model card).
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "tools/infini/eval_runner.h"
#include "tools/infini/eval_tasks.h"

namespace infini::tool {
namespace {

const std::string kDemo = std::string(INFINI_SOURCE_DIR) + "/models/demo";

struct Demo {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  PromptTemplate prompt;
};

const Demo& demo() {
  static const Demo d = [] {
    Demo d;
    LoadOptions options;
    d.model = Model::load(kDemo, options);
    d.tokenizer = Tokenizer::load(kDemo + "/tokenizer.model");
    d.prompt = PromptTemplate::load(kDemo);
    return d;
  }();
  return d;
}

TEST(DemoModel, IsAnInfiniTransformerWithItsTemplateAndTokenizer) {
  ASSERT_TRUE(std::filesystem::exists(kDemo + "/model.safetensors")) << kDemo;
  const Demo& d = demo();
  EXPECT_GT(d.model->config().num_layers, 0);
  EXPECT_EQ(d.prompt.document_prefix, "<doc>");
  EXPECT_EQ(d.prompt.stop, std::vector<std::string>{"<end>"});
  for (const char* piece : {"<doc>", "<question>", "<answer>", "<summary>", "<end>"}) {
    EXPECT_GE(d.tokenizer->piece_to_id(piece), 0) << piece;
  }
  EXPECT_LE(std::filesystem::file_size(kDemo + "/model.safetensors"), 50u << 20);
}

// A key inside the question's own segment, reached by local attention, after
// a long document folded into memory: the document is chosen to end 30-50
// tokens into its last segment, the key just before the question.
EvalCase key_in_last_segment(const Demo& d, int64_t around, uint64_t seed,
                             std::vector<int32_t>* ids) {
  const EvalDocuments documents(d.tokenizer, d.prompt.document_prefix, Filler::repeat());
  const int64_t segment = d.model->config().segment_size;
  for (int64_t length = around; length < around + 4 * segment; length += 3) {
    EvalRandom random(seed, EvalTask::kPasskey, length, 0);
    EvalCase c = documents.make_at(EvalTask::kPasskey, length, 1.0, random);
    *ids = encode_document(d.tokenizer, d.prompt.document_prefix, c.document);
    const int64_t offset = static_cast<int64_t>(ids->size()) % segment;
    if (offset >= 30 && offset <= 50) return c;
  }
  ADD_FAILURE() << "no length near " << around << " ends 30-50 tokens into a segment";
  return {};
}

TEST(DemoModel, AnswersAPasskeyInTheQuestionsSegmentAfterALongDocument) {
  const Demo& d = demo();
  for (const uint64_t seed : {7u, 8u, 9u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<int32_t> ids;
    const EvalCase c = key_in_last_segment(d, 4000, seed, &ids);
    const auto prompt = d.tokenizer->encode(d.prompt.question_text(c.question));
    const AnswerRun run = answer_after(*d.model, *d.tokenizer, ids, prompt, 16, d.prompt.stop);
    EXPECT_EQ(trim_answer(run.text), c.answer);
    EXPECT_GT(run.tokens_read, 60 * d.model->config().segment_size);
  }
}

// A key thousands of tokens before the question can only come back through
// the compressive memory: the model gives back the whole key from every
// depth, and the same weights with memory switched off (the eval's
// baseline) never do.
TEST(DemoModel, RecallsAKeyFromEarlierSegmentsThroughMemory) {
  const Demo& d = demo();
  const std::shared_ptr<const Model> memory_off =
      Model::load(kDemo, memory_off_options(LoadOptions{}));
  const EvalDocuments documents(d.tokenizer, d.prompt.document_prefix, Filler::repeat());
  const int64_t segment = d.model->config().segment_size;
  const int64_t length = 4096;
  for (const double depth : {0.1, 0.3, 0.5, 0.7, 0.85}) {
    SCOPED_TRACE("depth " + std::to_string(depth));
    EvalRandom random(static_cast<uint64_t>(depth * 100), EvalTask::kPasskey, length, 0);
    const EvalCase c = documents.make_at(EvalTask::kPasskey, length, depth, random);
    const std::vector<int32_t> ids =
        encode_document(d.tokenizer, d.prompt.document_prefix, c.document);
    const auto prompt = d.tokenizer->encode(d.prompt.question_text(c.question));
    // The key sentence is at least two segments before the question's.
    const size_t key_at = c.document.find(c.answer);
    ASSERT_NE(key_at, std::string::npos);
    const size_t before_key =
        encode_document(d.tokenizer, d.prompt.document_prefix, c.document.substr(0, key_at))
            .size();
    ASSERT_GT(ids.size() - before_key, static_cast<size_t>(2 * segment));

    const std::string got =
        trim_answer(answer_after(*d.model, *d.tokenizer, ids, prompt, 16, d.prompt.stop).text);
    const std::string off =
        trim_answer(answer_after(*memory_off, *d.tokenizer, ids, prompt, 16, d.prompt.stop).text);
    EXPECT_EQ(got, c.answer);
    EXPECT_NE(off, c.answer) << "memory off cannot know the key";
  }
}

}  // namespace
}  // namespace infini::tool
