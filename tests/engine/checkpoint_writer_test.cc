// The checkpoint writer behind `infini make-model` and the golden tests:
// random weights with the right names, shapes and statistics, and
// checkpoints that load back.
#include "engine/checkpoint_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/float_convert.h"
#include "engine/model_config.h"
#include "engine/safetensors.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using testing::TempDir;

void expect_error(const std::function<void()>& fn, ErrorCode code,
                  const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), code) << "code " << error_code_name(e.code()) << ", message: " << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message \"" << e.what() << "\" does not mention \"" << part << "\"";
    }
    return;
  }
  ADD_FAILURE() << "expected EngineError(" << error_code_name(code) << ")";
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

ModelConfig tiny_config(bool tied) {
  ModelConfig c = testing::small_model_config(50, 16, MemoryUpdate::kLinear);
  c.tie_word_embeddings = tied;
  return c;
}

double stddev(const std::vector<float>& v) {
  double sum = 0, sq = 0;
  for (float x : v) {
    sum += x;
    sq += double(x) * x;
  }
  const double mean = sum / v.size();
  return std::sqrt(sq / v.size() - mean * mean);
}

TEST(CheckpointWriterTest, RandomWeightsNamesAndShapes) {
  const ModelConfig c = tiny_config(false);
  const auto tensors = random_weights(c, 7, 0.02f, -3.0f, /*with_bias=*/true);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : tensors) shapes[t.name] = t.shape;
  std::map<std::string, std::vector<int64_t>> expected = {
      {"model.embed_tokens.weight", {50, 32}},
      {"model.norm.weight", {32}},
      {"lm_head.weight", {50, 32}},
  };
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    expected[p + "input_layernorm.weight"] = {32};
    expected[p + "self_attn.q_proj.weight"] = {32, 32};
    expected[p + "self_attn.k_proj.weight"] = {16, 32};
    expected[p + "self_attn.v_proj.weight"] = {16, 32};
    expected[p + "self_attn.o_proj.weight"] = {32, 32};
    expected[p + "self_attn.q_proj.bias"] = {32};
    expected[p + "self_attn.k_proj.bias"] = {16};
    expected[p + "self_attn.v_proj.bias"] = {16};
    expected[p + "self_attn.memory_gate"] = {4};
    expected[p + "post_attention_layernorm.weight"] = {32};
    expected[p + "mlp.gate_proj.weight"] = {48, 32};
    expected[p + "mlp.up_proj.weight"] = {48, 32};
    expected[p + "mlp.down_proj.weight"] = {32, 48};
  }
  EXPECT_EQ(shapes, expected);
  for (const auto& t : tensors) {
    ASSERT_EQ(t.values.size(), static_cast<size_t>(TensorView{DType::kF32, t.shape}.numel()));
  }

  const auto no_bias = random_weights(tiny_config(true), 7, 0.02f, -3.0f, false);
  for (const auto& t : no_bias) {
    EXPECT_EQ(t.name.find(".bias"), std::string::npos) << t.name;
    EXPECT_NE(t.name, "lm_head.weight") << "tied embeddings have no lm_head";
  }
  EXPECT_EQ(no_bias.size(), 1 + 2 * 10 + 1u);
}

TEST(CheckpointWriterTest, RandomWeightsValues) {
  const ModelConfig c = tiny_config(false);
  const auto a = random_weights(c, 42, 0.05f, 1.5f, false);
  const auto b = random_weights(c, 42, 0.05f, 1.5f, false);
  const auto other = random_weights(c, 43, 0.05f, 1.5f, false);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].values, b[i].values) << "same seed, same weights: " << a[i].name;
  }
  EXPECT_NE(a[0].values, other[0].values);

  for (const auto& t : a) {
    SCOPED_TRACE(t.name);
    if (t.name.ends_with("layernorm.weight") || t.name == "model.norm.weight") {
      EXPECT_EQ(t.values, std::vector<float>(t.values.size(), 1.0f));
    } else if (t.name.ends_with("memory_gate")) {
      EXPECT_EQ(t.values, std::vector<float>(4, 1.5f));
    } else if (t.name == "model.embed_tokens.weight") {
      EXPECT_NEAR(stddev(t.values), 1.0, 0.1);
    } else {
      EXPECT_NEAR(stddev(t.values), 0.05, 0.005);
    }
  }
}

TEST(CheckpointWriterTest, RandomWeightsRejectsBadArguments) {
  ModelConfig bad = tiny_config(false);
  bad.num_kv_heads = 3;
  expect_error([&] { random_weights(bad, 1, 0.02f, 0.0f, false); }, ErrorCode::kInvalidArgument,
               {"num_key_value_heads"});
  expect_error([&] { random_weights(tiny_config(false), 1, -1.0f, 0.0f, false); },
               ErrorCode::kInvalidArgument, {"init_std"});
}

TEST(CheckpointWriterTest, WriteCheckpointRoundTrips) {
  TempDir dir;
  const std::string model_dir = dir.file("models/tiny");
  ModelConfig c = tiny_config(true);
  c.memory_update = MemoryUpdate::kDelta;
  const auto tensors = random_weights(c, 3, 0.02f, -2.0f, false);
  write_checkpoint(model_dir, c, tensors, DType::kBF16);

  const ModelConfig loaded = ModelConfig::load(model_dir + "/config.json");
  EXPECT_EQ(loaded.vocab_size, c.vocab_size);
  EXPECT_EQ(loaded.num_kv_heads, c.num_kv_heads);
  EXPECT_EQ(loaded.tie_word_embeddings, true);
  EXPECT_EQ(loaded.memory_update, MemoryUpdate::kDelta);

  const auto file = SafetensorsFile::open(model_dir + "/model.safetensors");
  EXPECT_EQ(file->names().size(), tensors.size());
  for (const auto& t : tensors) {
    SCOPED_TRACE(t.name);
    const TensorView& view = file->tensor(t.name);
    EXPECT_EQ(view.dtype, DType::kBF16);
    EXPECT_EQ(view.shape, t.shape);
    const std::vector<float> got = view.to_f32();
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], bf16_to_float(float_to_bf16(t.values[i])));
    }
  }
}

TEST(CheckpointWriterTest, UnwritableDirectory) {
  TempDir dir;
  const std::string blocker = dir.file("a_file");
  write_bytes(blocker, "not a directory");
  const std::string model_dir = blocker + "/model";
  expect_error([&] { write_checkpoint(model_dir, tiny_config(false), {}, DType::kF32); },
               ErrorCode::kInvalidArgument, {model_dir});
}

}  // namespace
}  // namespace infini
