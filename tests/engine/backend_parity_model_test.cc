// The whole engine on each backend: the golden vectors of the PyTorch
// reference, streaming invariance (any chunking of a document gives the
// state and logits of reading it whole), fork isolation (asking on a fork
// never changes the session), and, on CUDA, the same greedy answers as the
// CPU on the demo model. The operations one by one are in
// backend_parity_test.cc; the CUDA cases skip by name where there is no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <random>
#include <span>

#include "engine/checkpoint_writer.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "tests/engine/backend_cases.h"
#include "tests/engine/golden_cases.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using testing::BackendCase;
using testing::relative_error;

LoadOptions options_for(const BackendCase& c) {
  LoadOptions options;
  options.backend = c.backend;
  options.dtype = c.dtype;
  return options;
}

// ---------------------------------------------------------------- golden

struct GoldenOnBackend {
  BackendCase backend;
  std::string name;
  size_t chunk;  // 0: all at once
};

void PrintTo(const GoldenOnBackend& p, std::ostream* os) {
  *os << p.name << " chunk " << p.chunk << " on " << testing::backend_case_name(p.backend);
}

class GoldenParityTest : public ::testing::TestWithParam<GoldenOnBackend> {
 protected:
  void SetUp() override { INFINI_SKIP_UNLESS_AVAILABLE(GetParam().backend); }
};

TEST_P(GoldenParityTest, LogitsAndMemoryMatchReference) {
  const GoldenOnBackend& p = GetParam();
  const std::string dir = testing::data_dir() + "/golden/" + p.name;
  auto model = Model::load(dir, options_for(p.backend));
  EXPECT_EQ(model->backend().name().rfind(p.backend.backend, 0), 0u) << model->backend().name();
  const auto ids = testing::read_ids(dir + "/ids.txt");
  const auto expected = testing::read_f32(dir + "/logits.f32");
  const auto expected_memory = testing::read_f32(dir + "/memory.f32");
  ASSERT_FALSE(ids.empty());
  ASSERT_EQ(expected.size(), ids.size() * static_cast<size_t>(model->config().vocab_size));

  SessionState state = model->new_session();
  std::vector<float> logits;
  const size_t chunk = p.chunk == 0 ? ids.size() : p.chunk;
  for (size_t at = 0; at < ids.size(); at += chunk) {
    const size_t count = std::min(chunk, ids.size() - at);
    auto part = model->logits_all(state, std::span<const int32_t>(ids).subspan(at, count));
    logits.insert(logits.end(), part.begin(), part.end());
  }
  EXPECT_EQ(state.tokens(), static_cast<int64_t>(ids.size()));
  const double tolerance = testing::golden_tolerance(p.backend.dtype);
  const double logit_error = relative_error(logits, expected);
  EXPECT_LT(logit_error, tolerance) << "logits of " << p.name;
  EXPECT_LT(relative_error(testing::golden_memory_of(state), expected_memory), tolerance)
      << "memory of " << p.name;
  RecordProperty("logit_error", std::to_string(logit_error));
}

std::vector<GoldenOnBackend> golden_params() {
  std::vector<GoldenOnBackend> out;
  for (const BackendCase& b : testing::all_backend_cases()) {
    for (const std::string& name : testing::golden_cases()) {
      for (size_t chunk : {0, 1, 7}) out.push_back({b, name, chunk});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(backend_parity, GoldenParityTest, ::testing::ValuesIn(golden_params()),
                         [](const auto& info) {
                           return info.param.name + "_chunk" + std::to_string(info.param.chunk) +
                                  "_" + testing::backend_case_name(info.param.backend);
                         });

// ------------------------------------------- streaming and fork isolation

ModelConfig small_config(MemoryUpdate update) {
  return testing::small_model_config(61, 16, update);
}

// head_dim 64 and a segment of 64: the shapes a GPU kernel's tiles meet in
// the real models, small enough for the CPU.
ModelConfig wide_config(MemoryUpdate update) {
  ModelConfig c = small_config(update);
  c.vocab_size = 300;
  c.hidden_size = 256;
  c.intermediate_size = 384;
  c.head_dim = 64;
  c.segment_size = 64;
  return c;
}

// A model built from in-memory random weights on a backend.
class RandomModel : public testing::RandomModel {
 public:
  // Weights of std 0.2 / sqrt(hidden / 32): model_test's scale for hidden
  // 32, kept at the same activation size for wider models (a wider model at
  // 0.2 turns chaotic and amplifies bf16 rounding past any fixed bound).
  RandomModel(const ModelConfig& config, const LoadOptions& options)
      : testing::RandomModel(
            config, 5, 0.2f / std::sqrt(static_cast<float>(config.hidden_size) / 32.0f), 0.3f,
            options) {}
};

using testing::random_ids;

struct ModelOnBackend {
  BackendCase backend;
  bool wide;
  MemoryUpdate update;
};

void PrintTo(const ModelOnBackend& p, std::ostream* os) {
  *os << (p.wide ? "wide " : "small ") << memory_update_name(p.update) << " on "
      << testing::backend_case_name(p.backend);
}

class ModelParityTest : public ::testing::TestWithParam<ModelOnBackend> {
 protected:
  void SetUp() override { INFINI_SKIP_UNLESS_AVAILABLE(GetParam().backend); }
  ModelConfig config() const {
    return GetParam().wide ? wide_config(GetParam().update) : small_config(GetParam().update);
  }
  // bf16 products round differently when a segment is computed in pieces
  // (other product shapes, other query blocks), so bf16 gets model_test's
  // looser bound; fp32 the design's 1e-4.
  double tolerance() const { return GetParam().backend.dtype == ComputeDType::kF32 ? 1e-4 : 3e-2; }
};

TEST_P(ModelParityTest, ChunkedReadingEqualsReadingWhole) {
  const ModelConfig c = config();
  RandomModel model(c, options_for(GetParam().backend));
  const size_t S = static_cast<size_t>(c.segment_size);
  const auto ids = random_ids(4 * S + 11, c.vocab_size, 11);
  auto feed = [&](size_t chunk) {
    SessionState state = model->new_session();
    std::vector<float> logits;
    for (size_t at = 0; at < ids.size(); at += chunk) {
      const size_t n = std::min(chunk, ids.size() - at);
      auto part = model->logits_all(state, std::span<const int32_t>(ids).subspan(at, n));
      logits.insert(logits.end(), part.begin(), part.end());
    }
    EXPECT_EQ(state.tokens(), static_cast<int64_t>(ids.size()));
    EXPECT_EQ(state.segments(), static_cast<int64_t>(ids.size() / S));
    return std::make_pair(logits, state.to_host());
  };
  const auto whole = feed(ids.size());
  double worst = 0.0;
  for (size_t chunk : {size_t{1}, size_t{7}, S - 1, S, 3 * S + 5}) {
    const auto part = feed(chunk);
    const double logits_error = relative_error(part.first, whole.first);
    const double state_error = relative_error(part.second, whole.second);
    EXPECT_LT(logits_error, tolerance()) << "logits, chunk " << chunk;
    EXPECT_LT(state_error, tolerance()) << "state, chunk " << chunk;
    worst = std::max({worst, logits_error, state_error});
  }
  RecordProperty("worst_error", std::to_string(worst));
  // Ingest without logits leaves the same state as reading with them.
  SessionState ingested = model->new_session();
  model->ingest(ingested, std::span<const int32_t>(ids).first(ids.size() - 1));
  auto last = model->logits_last(ingested, std::span<const int32_t>(ids).last(1));
  std::vector<float> expected(whole.first.end() - static_cast<long>(c.vocab_size),
                              whole.first.end());
  EXPECT_LT(relative_error(last, expected), tolerance()) << "ingest then logits_last";
  EXPECT_LT(relative_error(ingested.to_host(), whole.second), tolerance()) << "ingest's state";
}

TEST_P(ModelParityTest, AskingOnAForkNeverChangesTheSession) {
  const ModelConfig c = config();
  RandomModel model(c, options_for(GetParam().backend));
  const size_t S = static_cast<size_t>(c.segment_size);
  const auto document = random_ids(2 * S + S / 2, c.vocab_size, 4);
  const auto question = random_ids(3 * S, c.vocab_size, 9);  // fills and folds segments
  SessionState state = model->new_session();
  model->ingest(state, document);
  const auto before = state.to_host();
  {
    SessionState fork = state.fork();
    model->logits_all(fork, question);
    EXPECT_NE(fork.to_host(), before);
    EXPECT_EQ(fork.tokens(), static_cast<int64_t>(document.size() + question.size()));
    EXPECT_EQ(state.to_host(), before) << "the fork wrote into the session";
  }
  EXPECT_EQ(state.to_host(), before) << "destroying the fork changed the session";
  EXPECT_EQ(state.tokens(), static_cast<int64_t>(document.size()));
  // The session goes on exactly like one that was never forked.
  SessionState twin = model->new_session();
  model->ingest(twin, document);
  const auto a = model->logits_all(state, question);
  const auto b = model->logits_all(twin, question);
  EXPECT_LT(relative_error(a, b), tolerance());
  EXPECT_LT(relative_error(state.to_host(), twin.to_host()), tolerance());
}

std::vector<ModelOnBackend> model_params() {
  std::vector<ModelOnBackend> out;
  for (const BackendCase& b : testing::all_backend_cases()) {
    for (const bool wide : {false, true}) {
      for (const MemoryUpdate u : {MemoryUpdate::kLinear, MemoryUpdate::kDelta}) {
        out.push_back({b, wide, u});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(backend_parity, ModelParityTest, ::testing::ValuesIn(model_params()),
                         [](const auto& info) {
                           return std::string(info.param.wide ? "wide_" : "small_") +
                                  memory_update_name(info.param.update) + "_" +
                                  testing::backend_case_name(info.param.backend);
                         });

// ------------------------------------------ the demo model, CPU against GPU

const std::string kDemo = std::string(INFINI_SOURCE_DIR) + "/models/demo";

// A passkey document in the format of docs/demo-tasks.md with the key right
// before the question, the document ending 30-50 tokens into its last
// segment: what this model answers (its model card; demo_model_test.cc).
struct PasskeyDocument {
  std::vector<int32_t> ids;
  std::string key;
};

PasskeyDocument passkey_document(const Tokenizer& tokenizer, const PromptTemplate& prompt,
                                 int64_t segment, int key) {
  const char* filler[] = {"The grass is green.", "The sky is blue.", "The sun is yellow.",
                          "Here we go.", "There and back again."};
  const std::string k = std::to_string(key);
  std::string text =
      "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
      "them. I will quiz you about the important information there.";
  for (int i = 0;; ++i) {
    text += std::string(" ") + filler[i % 5];
    if (i < 500) continue;  // about 4,000 tokens before the key
    PasskeyDocument doc{tokenizer.encode(prompt.document_prefix + text + " The pass key is " + k +
                                         ". Remember it. " + k + " is the pass key."),
                        k};
    const int64_t offset = static_cast<int64_t>(doc.ids.size()) % segment;
    if (offset >= 30 && offset <= 50) return doc;
    if (i > 2000) break;
  }
  ADD_FAILURE() << "no passkey document ends 30-50 tokens into a segment";
  return {};
}

struct Answer {
  std::string text;
  std::vector<float> first_logits;  // after the question's last token
};

Answer answer(const Model& model, const Tokenizer& tokenizer, const PromptTemplate& prompt,
              const PasskeyDocument& doc) {
  SessionState state = model.new_session();
  model.ingest(state, doc.ids);
  const std::vector<int32_t> question =
      tokenizer.encode(prompt.question_text("What is the pass key?"));
  Answer a;
  {
    SessionState probe = state.fork();
    a.first_logits = model.logits_last(probe, question);
  }
  GenerationRequest request;
  request.prompt = question;
  request.max_tokens = 16;
  request.stop = prompt.stop;  // temperature 0: greedy
  SessionState fork = state.fork();
  a.text = generate(model, tokenizer, fork, request, [](std::string_view) { return true; }).text;
  return a;
}

class DemoModelParityTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override { INFINI_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

TEST_P(DemoModelParityTest, GreedyAnswersEqualTheCpus) {
  auto tokenizer = Tokenizer::load(kDemo + "/tokenizer.model");
  const PromptTemplate prompt = PromptTemplate::load(kDemo);
  LoadOptions cpu_options = options_for(GetParam());
  cpu_options.backend = "cpu";
  auto cpu = Model::load(kDemo, cpu_options);
  auto gpu = Model::load(kDemo, options_for(GetParam()));
  for (const int key : {71432, 28519, 90357}) {
    SCOPED_TRACE("key " + std::to_string(key));
    const PasskeyDocument doc =
        passkey_document(*tokenizer, prompt, cpu->config().segment_size, key);
    const Answer want = answer(*cpu, *tokenizer, prompt, doc);
    const Answer got = answer(*gpu, *tokenizer, prompt, doc);
    EXPECT_EQ(got.text, want.text) << "planted key " << doc.key;
    EXPECT_LT(relative_error(got.first_logits, want.first_logits),
              testing::golden_tolerance(GetParam().dtype));
    EXPECT_NE(want.text.find(doc.key), std::string::npos)
        << "the CPU's answer '" << want.text << "' lacks the key: the document is not one this "
        << "model answers";
  }
}

// The comparison means something on cuda; the cpu cases (cpu against
// itself) check the premise on every machine: that these documents are ones
// the demo model answers, so that a GPU failure here is the GPU's.
INSTANTIATE_TEST_SUITE_P(backend_parity, DemoModelParityTest,
                         ::testing::ValuesIn(testing::all_backend_cases()),
                         [](const auto& info) { return testing::backend_case_name(info.param); });

}  // namespace
}  // namespace infini
