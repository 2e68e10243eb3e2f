// Properties of the forward pass that hold for any weights: feeding order
// does not matter, forks are isolated, the state is bounded, bad input is
// rejected with a clear error.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "engine/checkpoint_writer.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using testing::relative_error;
using testing::TempDir;

ModelConfig small_config(MemoryUpdate update, int64_t segment) {
  return testing::small_model_config(61, segment, update);
}

// Weights of std 0.2 with gates at 0.3, run in `dtype`.
class RandomModel : public testing::RandomModel {
 public:
  RandomModel(const ModelConfig& config, ComputeDType dtype, uint64_t seed = 5)
      : testing::RandomModel(config, seed, 0.2f, 0.3f, with_dtype(dtype)) {}

 private:
  static LoadOptions with_dtype(ComputeDType dtype) {
    LoadOptions options;
    options.dtype = dtype;
    return options;
  }
};

using testing::random_ids;

struct Feeding {
  MemoryUpdate update;
  ComputeDType dtype;
};

class FeedingTest : public ::testing::TestWithParam<Feeding> {};

TEST_P(FeedingTest, TokenByTokenChunkedAndWholeAgree) {
  const auto config = small_config(GetParam().update, 8);
  RandomModel model(config, GetParam().dtype);
  const auto ids = random_ids(45, static_cast<int32_t>(config.vocab_size), 11);

  auto feed = [&](size_t chunk) {
    SessionState state = model->new_session();
    std::vector<float> logits;
    for (size_t at = 0; at < ids.size(); at += chunk) {
      const size_t n = std::min(chunk, ids.size() - at);
      auto part = model->logits_all(state, std::span<const int32_t>(ids).subspan(at, n));
      logits.insert(logits.end(), part.begin(), part.end());
    }
    return std::make_pair(logits, state.to_host());
  };
  const auto whole = feed(ids.size());
  // bf16 products round differently when a segment is computed in pieces
  // (different query-block boundaries), so the bf16 tolerance is looser.
  const double tol = GetParam().dtype == ComputeDType::kF32 ? 1e-4 : 3e-2;
  for (size_t chunk : {1, 2, 5, 8, 13}) {
    const auto part = feed(chunk);
    EXPECT_LT(relative_error(part.first, whole.first), tol) << "logits, chunk " << chunk;
    EXPECT_LT(relative_error(part.second, whole.second), tol) << "state, chunk " << chunk;
  }
}

TEST_P(FeedingTest, IngestThenLogitsEqualsLogitsAll) {
  const auto config = small_config(GetParam().update, 8);
  RandomModel model(config, GetParam().dtype);
  const auto ids = random_ids(30, static_cast<int32_t>(config.vocab_size), 3);
  SessionState a = model->new_session(), b = model->new_session();
  auto all = model->logits_all(a, ids);
  model->ingest(b, std::span<const int32_t>(ids).first(ids.size() - 1));
  auto last = model->logits_last(b, std::span<const int32_t>(ids).last(1));
  std::vector<float> expected(all.end() - static_cast<long>(config.vocab_size), all.end());
  // Different product shapes round differently: equal to float tolerance, not bitwise.
  const double tol = GetParam().dtype == ComputeDType::kF32 ? 1e-4 : 3e-2;
  EXPECT_LT(relative_error(last, expected), tol);
  EXPECT_LT(relative_error(a.to_host(), b.to_host()), tol);
}

INSTANTIATE_TEST_SUITE_P(Paths, FeedingTest,
                         ::testing::Values(Feeding{MemoryUpdate::kLinear, ComputeDType::kF32},
                                           Feeding{MemoryUpdate::kDelta, ComputeDType::kF32},
                                           Feeding{MemoryUpdate::kDelta, ComputeDType::kBF16}));

TEST(ModelTest, MemoryChangesTheOutput) {
  // Delta and linear, and gate values, must give different logits once a
  // segment has been folded: otherwise memory would not be read at all.
  auto ids = random_ids(20, 61, 2);
  RandomModel linear(small_config(MemoryUpdate::kLinear, 4), ComputeDType::kF32);
  RandomModel delta(small_config(MemoryUpdate::kDelta, 4), ComputeDType::kF32);
  SessionState a = linear->new_session(), b = delta->new_session();
  auto la = linear->logits_all(a, ids), lb = delta->logits_all(b, ids);
  const size_t first_segment = 4 * 61;
  std::vector<float> head_a(la.begin(), la.begin() + first_segment);
  std::vector<float> head_b(lb.begin(), lb.begin() + first_segment);
  EXPECT_LT(relative_error(head_a, head_b), 1e-6) << "no memory yet: both rules agree";
  EXPECT_GT(relative_error(la, lb), 1e-3) << "after a fold the rules must differ";
}

TEST(ModelTest, ForkLeavesOriginalByteIdentical) {
  const auto config = small_config(MemoryUpdate::kDelta, 8);
  RandomModel model(config, ComputeDType::kF32);
  SessionState state = model->new_session();
  model->ingest(state, random_ids(21, 61, 4));
  const auto before = state.to_host();
  SessionState fork = state.fork();
  model->logits_all(fork, random_ids(40, 61, 9));  // fills and folds segments in the fork
  EXPECT_EQ(state.to_host(), before);
  EXPECT_NE(fork.to_host(), before);
  EXPECT_EQ(state.tokens(), 21);
  EXPECT_EQ(fork.tokens(), 61);
}

TEST(ModelTest, RestoreFromHostContinuesExactly) {
  const auto config = small_config(MemoryUpdate::kDelta, 8);
  RandomModel model(config, ComputeDType::kF32);
  SessionState state = model->new_session();
  model->ingest(state, random_ids(21, 61, 4));  // two segments folded, five in the window
  std::vector<float> host = state.to_host();
  ASSERT_EQ(static_cast<int64_t>(host.size()), state.host_floats() + 2);
  host.resize(host.size() - 2);

  SessionState restored = model->new_session();
  restored.restore(host, state.tokens(), state.segments());
  EXPECT_EQ(restored.tokens(), 21);
  EXPECT_EQ(restored.segments(), 2);
  EXPECT_EQ(restored.segment_offset(), state.segment_offset());
  const auto a = state.to_host(), b = restored.to_host();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "not bit for bit";

  // Both continue identically, across the next fold.
  const auto more = random_ids(13, 61, 8);
  const auto la = model->logits_all(state, more);
  const auto lb = model->logits_all(restored, more);
  ASSERT_EQ(la.size(), lb.size());
  EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0);
  EXPECT_EQ(state.to_host(), restored.to_host());
}

// The window is held only while it has tokens in it (issue #19): a state on
// a segment boundary holds its memory alone, and continues exactly as one
// that kept its window, through forks and restores.
TEST(ModelTest, TheWindowIsHeldOnlyWhileItHasTokens) {
  const auto config = small_config(MemoryUpdate::kDelta, 8);
  RandomModel model(config, ComputeDType::kF32);
  SessionState state = model->new_session();
  EXPECT_FALSE(state.window_held());
  model->ingest(state, random_ids(21, 61, 4));  // two segments folded, five in the window
  EXPECT_TRUE(state.window_held());
  EXPECT_EQ(state.state_bytes(), state.step_bytes());
  model->ingest(state, random_ids(3, 61, 5));  // 24: on the boundary
  EXPECT_FALSE(state.window_held());
  EXPECT_EQ(state.state_bytes(), state.memory_bytes());

  // A fork of it is memory only too, and a step on the fork leaves it so.
  SessionState fork = state.fork();
  EXPECT_FALSE(fork.window_held());
  const auto question = random_ids(5, 61, 6);
  const auto from_fork = model->logits_all(fork, question);
  EXPECT_TRUE(fork.window_held());
  EXPECT_FALSE(state.window_held());

  // Restored from its host form (the window as zeros): the same logits.
  std::vector<float> host = state.to_host();
  host.resize(host.size() - 2);
  SessionState restored = model->new_session();
  restored.restore(host, state.tokens(), state.segments());
  EXPECT_FALSE(restored.window_held());
  const auto from_restored = model->logits_all(restored, question);
  ASSERT_EQ(from_fork.size(), from_restored.size());
  EXPECT_EQ(std::memcmp(from_fork.data(), from_restored.data(), from_fork.size() * sizeof(float)), 0);

  // And as a state that never let its window go: the whole text at once.
  SessionState whole = model->new_session();
  std::vector<int32_t> all = random_ids(21, 61, 4);
  for (int32_t id : random_ids(3, 61, 5)) all.push_back(id);
  for (int32_t id : question) all.push_back(id);
  const auto from_whole = model->logits_all(whole, all);
  const std::vector<float> tail(from_whole.end() - static_cast<std::ptrdiff_t>(from_fork.size()),
                                from_whole.end());
  // (Products over other row counts round differently: FeedingTest's bound.)
  EXPECT_LT(relative_error(tail, from_fork), 1e-4);
}

TEST(ModelTest, RestoreRejectsAWrongShapeAndLeavesTheStateAlone) {
  RandomModel model(small_config(MemoryUpdate::kLinear, 8), ComputeDType::kF32);
  SessionState state = model->new_session();
  model->ingest(state, random_ids(11, 61, 6));
  std::vector<float> host = state.to_host();
  host.resize(host.size() - 2);
  SessionState other = model->new_session();
  model->ingest(other, random_ids(3, 61, 7));
  const auto before = other.to_host();
  for (size_t size : {host.size() - 1, host.size() + 1, size_t{0}}) {
    std::vector<float> wrong(host.begin(), host.end());
    wrong.resize(size);
    try {
      other.restore(wrong, 11, 1);
      FAIL() << "accepted " << size << " floats";
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      const std::string what = e.what();
      EXPECT_NE(what.find(std::to_string(host.size())), std::string::npos) << what;
      EXPECT_NE(what.find(std::to_string(size)), std::string::npos) << what;
    }
  }
  // Counters the model could never have produced (segments fold at 8 tokens).
  EXPECT_THROW(other.restore(host, 11, 0), EngineError);
  EXPECT_THROW(other.restore(host, 16, 1), EngineError);
  EXPECT_THROW(other.restore(host, -1, 0), EngineError);
  EXPECT_EQ(other.to_host(), before);
}

TEST(ModelTest, StateBytesAreFixedByShapesNotLength) {
  ModelConfig c = small_config(MemoryUpdate::kDelta, 64);
  c.hidden_size = 16;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 8;
  c.intermediate_size = 16;
  c.vocab_size = 32;
  RandomModel model(c, ComputeDType::kBF16);
  SessionState state = model->new_session();
  const int64_t expected = c.memory_bytes() + 2 * c.num_layers * c.segment_size * c.kv_size() * 4;
  EXPECT_EQ(state.step_bytes(), expected);
  EXPECT_EQ(state.state_bytes(), c.memory_bytes()) << "no window until a step needs one";
  EXPECT_EQ(state.memory_bytes(), c.num_layers * c.num_kv_heads * c.head_dim * (c.head_dim + 1) * 4);
  model->ingest(state, random_ids(1000, 32, 1));  // 1000 = 15 segments of 64 + 40 in the window
  const int64_t after_1k = state.state_bytes();
  std::vector<int32_t> block = random_ids(4096, 32, 2);
  while (state.tokens() < 1'000'000) {
    const size_t n = std::min<size_t>(block.size(), 1'000'000 - static_cast<size_t>(state.tokens()));
    model->ingest(state, std::span<const int32_t>(block).first(n));
  }
  EXPECT_EQ(state.tokens(), 1'000'000);
  EXPECT_EQ(state.segments(), 1'000'000 / 64);
  EXPECT_EQ(after_1k, expected);
  EXPECT_EQ(state.state_bytes(), c.memory_bytes()) << "1M tokens end on a segment boundary";
  EXPECT_EQ(state.step_bytes(), expected);
  for (float v : state.to_host()) ASSERT_TRUE(std::isfinite(v)) << "memory overflowed";
}

TEST(ModelTest, TokenIdOutOfRangeIsRejectedAndStateUntouched) {
  RandomModel model(small_config(MemoryUpdate::kLinear, 8), ComputeDType::kF32);
  SessionState state = model->new_session();
  model->ingest(state, random_ids(5, 61, 1));
  const auto before = state.to_host();
  for (int32_t bad : {61, -1, 1 << 30}) {
    std::vector<int32_t> ids = {1, 2, bad, 3};
    try {
      model->ingest(state, ids);
      FAIL() << "accepted id " << bad;
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("index 2"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(state.to_host(), before);
}

TEST(ModelTest, LogitsOfNothingIsAnError) {
  RandomModel model(small_config(MemoryUpdate::kLinear, 8), ComputeDType::kF32);
  SessionState state = model->new_session();
  EXPECT_THROW(model->logits_last(state, {}), EngineError);
  model->ingest(state, {});  // nothing to read is not an error for ingest
  EXPECT_EQ(state.tokens(), 0);
}

// A decode batch: sequences at different depths (empty, mid-segment, one
// token before a fold, on a boundary, past several folds) step together,
// leave the batch one by one, and each gets what it gets alone.
class DecodeBatchTest : public ::testing::TestWithParam<Feeding> {};

TEST_P(DecodeBatchTest, EachSequenceGetsWhatItGetsAlone) {
  const auto config = small_config(GetParam().update, 8);
  RandomModel model(config, GetParam().dtype);
  const int32_t vocab = static_cast<int32_t>(config.vocab_size);
  const std::vector<size_t> depths = {0, 3, 7, 8, 21};
  std::vector<SessionState> batched, alone;
  for (size_t i = 0; i < depths.size(); ++i) {
    SessionState s = model->new_session();
    model->ingest(s, random_ids(depths[i], vocab, 100 + i));
    alone.push_back(s.fork());
    batched.push_back(std::move(s));
  }
  // Products over more rows round differently (docs/benchmarks.md): equal
  // to the tolerance the feeding tests use, not bitwise.
  const double tol = GetParam().dtype == ComputeDType::kF32 ? 1e-4 : 3e-2;
  const auto steps = random_ids(12 * depths.size(), vocab, 9);
  for (size_t step = 0; step < 12; ++step) {
    // Sequence i leaves after step 2 * i + 3 (the last stays to the end).
    std::vector<SessionState*> states;
    std::vector<int32_t> ids;
    for (size_t i = 0; i < depths.size(); ++i) {
      if (i + 1 < depths.size() && step > 2 * i + 3) continue;
      states.push_back(&batched[i]);
      ids.push_back(steps[step * depths.size() + i]);
    }
    const auto logits = model->decode(states, ids);
    ASSERT_EQ(logits.size(), ids.size() * static_cast<size_t>(vocab));
    size_t row = 0;
    for (size_t i = 0; i < depths.size(); ++i) {
      if (i + 1 < depths.size() && step > 2 * i + 3) continue;
      const auto want = model->logits_last(alone[i], std::span<const int32_t>(&ids[row], 1));
      const std::vector<float> got(logits.begin() + static_cast<long>(row * vocab),
                                   logits.begin() + static_cast<long>((row + 1) * vocab));
      EXPECT_LT(relative_error(got, want), tol) << "sequence " << i << ", step " << step;
      EXPECT_EQ(batched[i].tokens(), alone[i].tokens());
      EXPECT_EQ(batched[i].segments(), alone[i].segments());
      EXPECT_EQ(batched[i].window_held(), alone[i].window_held());
      ++row;
    }
  }
  for (size_t i = 0; i < depths.size(); ++i) {
    EXPECT_LT(relative_error(batched[i].to_host(), alone[i].to_host()), tol) << "state " << i;
  }
}

TEST_P(DecodeBatchTest, ABatchOfOneIsBitwiseTheLoneStep) {
  const auto config = small_config(GetParam().update, 8);
  RandomModel model(config, GetParam().dtype);
  SessionState a = model->new_session();
  model->ingest(a, random_ids(13, config.vocab_size, 4));
  SessionState b = a.fork();
  for (int32_t id : random_ids(10, config.vocab_size, 5)) {
    SessionState* one[] = {&a};
    const auto batched = model->decode(one, std::span<const int32_t>(&id, 1));
    EXPECT_EQ(batched, model->logits_last(b, std::span<const int32_t>(&id, 1)));
  }
  EXPECT_EQ(a.to_host(), b.to_host());
}

INSTANTIATE_TEST_SUITE_P(Paths, DecodeBatchTest,
                         ::testing::Values(Feeding{MemoryUpdate::kLinear, ComputeDType::kF32},
                                           Feeding{MemoryUpdate::kDelta, ComputeDType::kF32},
                                           Feeding{MemoryUpdate::kDelta, ComputeDType::kBF16}));

TEST(ModelTest, DecodeBatchRefusesBadBatchesAndChangesNothing) {
  RandomModel model(small_config(MemoryUpdate::kDelta, 8), ComputeDType::kF32);
  SessionState a = model->new_session(), b = model->new_session();
  model->ingest(a, random_ids(5, 61, 1));
  model->ingest(b, random_ids(9, 61, 2));
  const auto a_before = a.to_host(), b_before = b.to_host();
  auto refused = [&](std::vector<SessionState*> states, std::vector<int32_t> ids,
                     ErrorCode code, const std::string& says) {
    try {
      model->decode(states, ids);
      ADD_FAILURE() << "accepted a bad batch: " << says;
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  refused({&a, &b}, {1}, ErrorCode::kInvalidArgument, "2 states for 1 tokens");
  refused({&a, &a}, {1, 2}, ErrorCode::kInvalidArgument, "state 1 appears twice");
  refused({&a, nullptr}, {1, 2}, ErrorCode::kInvalidArgument, "state 1 is null");
  refused({&a, &b}, {1, 61}, ErrorCode::kOutOfRange, "token id 61 at index 1");
  EXPECT_EQ(a.to_host(), a_before);
  EXPECT_EQ(b.to_host(), b_before);
  EXPECT_TRUE(model->decode({}, {}).empty());
}

class CheckpointErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = small_config(MemoryUpdate::kDelta, 8);
    tensors_ = random_weights(config_, 1, 0.1f, 0.0f, false);
  }
  void write(const std::vector<NamedTensor>& tensors) {
    write_checkpoint(dir_.path(), config_, tensors, DType::kF32);
  }
  ErrorCode load_error(std::string* message = nullptr) {
    try {
      Model::load(dir_.path(), LoadOptions{});
    } catch (const EngineError& e) {
      if (message) *message = e.what();
      return e.code();
    }
    ADD_FAILURE() << "load succeeded";
    return ErrorCode::kInternal;
  }
  ModelConfig config_;
  std::vector<NamedTensor> tensors_;
  TempDir dir_;
};

TEST_F(CheckpointErrorTest, MissingDirectoryAndFiles) {
  EXPECT_THROW(Model::load(dir_.file("nope"), LoadOptions{}), EngineError);
  EXPECT_EQ(load_error(), ErrorCode::kNotFound);  // empty directory: no config.json
  write(tensors_);
  std::filesystem::remove(dir_.file("model.safetensors"));
  std::string message;
  EXPECT_EQ(load_error(&message), ErrorCode::kNotFound);
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
}

TEST_F(CheckpointErrorTest, MissingTensorIsNamed) {
  auto tensors = tensors_;
  std::erase_if(tensors, [](const NamedTensor& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  write(tensors);
  std::string message;
  EXPECT_EQ(load_error(&message), ErrorCode::kNotFound);
  EXPECT_NE(message.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << message;
}

TEST_F(CheckpointErrorTest, WrongShapeIsNamed) {
  auto tensors = tensors_;
  for (auto& t : tensors) {
    if (t.name == "model.layers.0.self_attn.k_proj.weight") {
      t.shape = {config_.kv_size() / 2, config_.hidden_size * 2};
    }
  }
  write(tensors);
  std::string message;
  EXPECT_EQ(load_error(&message), ErrorCode::kCorruptData);
  EXPECT_NE(message.find("k_proj"), std::string::npos) << message;
}

TEST_F(CheckpointErrorTest, TruncatedWeightsFile) {
  write(tensors_);
  std::filesystem::resize_file(dir_.file("model.safetensors"),
                               std::filesystem::file_size(dir_.file("model.safetensors")) / 2);
  EXPECT_EQ(load_error(), ErrorCode::kCorruptData);
}

TEST_F(CheckpointErrorTest, PlainLlamaRunsMemoryOffOrWithAGateValue) {
  auto tensors = tensors_;
  std::erase_if(tensors, [](const NamedTensor& t) { return t.name.ends_with("memory_gate"); });
  write(tensors);
  // No gate given: memory off (checkpoint_safetensors_test.cc checks what that computes).
  EXPECT_FALSE(Model::load(dir_.path(), LoadOptions{})->memory_enabled());
  LoadOptions options;
  options.gate = 0.25f;
  auto model = Model::load(dir_.path(), options);
  SessionState s = model->new_session();
  EXPECT_EQ(model->logits_last(s, std::vector<int32_t>{1, 2, 3}).size(), 61u);
  options.gate = 1.5f;
  EXPECT_THROW(Model::load(dir_.path(), options), EngineError);
}

}  // namespace
}  // namespace infini
