// Checkpoint directories as Hugging Face lays them out: one model.safetensors
// or shards with model.safetensors.index.json (engine/checkpoint_tensors.h),
// and Model::load's rule that every tensor is used or refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/checkpoint_tensors.h"
#include "engine/checkpoint_writer.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using nlohmann::json;
using testing::TempDir;

ModelConfig tiny_config(Architecture architecture) {
  ModelConfig c;
  c.architecture = architecture;
  c.vocab_size = 37;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  c.segment_size = 5;
  c.tie_word_embeddings = true;
  c.qk_norm = architecture == Architecture::kQwen3;
  c.qkv_bias = architecture == Architecture::kQwen2;
  return c;
}

// Random weights for `config`, with the tensors its architecture adds.
std::vector<NamedTensor> weights_for(const ModelConfig& config, bool gates) {
  auto tensors = random_weights(config, 3, 0.3f, 0.2f, config.qkv_bias);
  if (!gates) {
    std::erase_if(tensors, [](const NamedTensor& t) { return t.name.ends_with("memory_gate"); });
  }
  if (config.qk_norm) {
    for (int64_t l = 0; l < config.num_layers; ++l) {
      for (const char* which : {"q_norm", "k_norm"}) {
        NamedTensor t{"model.layers." + std::to_string(l) + ".self_attn." + which + ".weight",
                      {config.head_dim},
                      std::vector<float>(static_cast<size_t>(config.head_dim))};
        for (size_t i = 0; i < t.values.size(); ++i)
          t.values[i] = 0.5f + 0.25f * static_cast<float>(i);
        tensors.push_back(std::move(t));
      }
    }
  }
  return tensors;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Writes config.json and `tensors` split over `shards` files with an index.
void write_sharded(const std::string& dir, const ModelConfig& config,
                   const std::vector<NamedTensor>& tensors, size_t shards) {
  std::filesystem::create_directories(dir);
  write_text(dir + "/config.json", config.to_json());
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  std::vector<std::vector<NamedTensor>> parts(shards);
  for (size_t i = 0; i < tensors.size(); ++i) parts[i % shards].push_back(tensors[i]);
  for (size_t s = 0; s < shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards);
    write_safetensors(dir + "/" + name, parts[s], DType::kBF16);
    for (const auto& t : parts[s]) index["weight_map"][t.name] = name;
  }
  write_text(dir + "/" + kWeightsIndexFile, index.dump(2));
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// Expects `fn` to throw an EngineError with `code` naming every one of `parts`.
void expect_error(const std::function<void()>& fn, ErrorCode code,
                  const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), code) << error_code_name(e.code()) << ": " << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "\"" << e.what() << "\" does not mention \"" << part << "\"";
    }
    return;
  }
  ADD_FAILURE() << "no EngineError";
}

std::vector<float> logits_of(const Model& model) {
  SessionState state = model.new_session();
  return model.logits_all(state, std::vector<int32_t>{1, 5, 9, 2, 7, 3, 11, 4});
}

LoadOptions f32() {
  LoadOptions options;
  options.dtype = ComputeDType::kF32;
  return options;
}

TEST(ShardedCheckpointTest, ShardsLoadExactlyAsOneFile) {
  TempDir dir;
  const ModelConfig config = tiny_config(Architecture::kInfiniLlama);
  const auto tensors = weights_for(config, true);
  write_checkpoint(dir.file("single"), config, tensors, DType::kBF16);
  write_sharded(dir.file("sharded"), config, tensors, 3);
  auto single = Model::load(dir.file("single"), f32());
  auto sharded = Model::load(dir.file("sharded"), f32());
  EXPECT_EQ(logits_of(*single), logits_of(*sharded));

  auto files = CheckpointTensors::open(dir.file("sharded"));
  EXPECT_EQ(files->files().size(), 3u);
  EXPECT_EQ(files->names().size(), tensors.size());
  EXPECT_NE(files->file_of("model.norm.weight").find("-of-00003.safetensors"), std::string::npos);
  EXPECT_EQ(files->find("nope"), nullptr);
  EXPECT_EQ(files->file_of("nope"), "");
}

class ShardErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = tiny_config(Architecture::kInfiniLlama);
    write_sharded(dir_.path(), config_, weights_for(config_, true), 2);
    index_ = read_json(index_path());
  }
  std::string index_path() const { return dir_.file(kWeightsIndexFile); }
  void write_index(const json& index) { write_text(index_path(), index.dump(2)); }
  void expect_open_error(ErrorCode code, const std::vector<std::string>& parts) {
    expect_error([&] { CheckpointTensors::open(dir_.path()); }, code, parts);
    expect_error([&] { Model::load(dir_.path(), f32()); }, code, parts);
  }
  ModelConfig config_;
  TempDir dir_;
  json index_;
};

TEST_F(ShardErrorTest, MissingShard) {
  std::filesystem::remove(dir_.file("model-00002-of-00002.safetensors"));
  expect_open_error(ErrorCode::kNotFound,
                    {index_path(), "model-00002-of-00002.safetensors", "missing"});
}

TEST_F(ShardErrorTest, TensorListedButNotInItsShard) {
  index_["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors";
  write_index(index_);
  expect_open_error(ErrorCode::kCorruptData, {"model-00001-of-00002.safetensors",
                                              "model.layers.9.mlp.up_proj.weight", "listed"});
}

TEST_F(ShardErrorTest, TensorInAShardButNotInTheIndex) {
  index_["weight_map"].erase("model.norm.weight");
  write_index(index_);
  expect_open_error(ErrorCode::kCorruptData,
                    {"model.norm.weight", "not in", index_path(), ".safetensors"});
}

TEST_F(ShardErrorTest, TensorInTwoShards) {
  // Shard 2 gets a copy of a tensor that the index maps to shard 1.
  const std::string name = index_["weight_map"].begin().key();
  auto tensors = weights_for(config_, true);
  std::vector<NamedTensor> shard2;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i % 2 == 1 || tensors[i].name == name) shard2.push_back(tensors[i]);
  }
  ASSERT_EQ(index_["weight_map"][name], "model-00001-of-00002.safetensors");
  write_safetensors(dir_.file("model-00002-of-00002.safetensors"), shard2, DType::kBF16);
  expect_open_error(ErrorCode::kCorruptData,
                    {name, "model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"});
}

TEST_F(ShardErrorTest, DuplicateNameInTheIndex) {
  std::string text = index_.dump(2);
  const std::string entry = "\"model.norm.weight\": ";
  const size_t at = text.find(entry);
  ASSERT_NE(at, std::string::npos);
  text.insert(at, entry + "\"model-00002-of-00002.safetensors\",\n    ");
  write_text(index_path(), text);
  expect_open_error(ErrorCode::kCorruptData, {index_path(), "model.norm.weight", "more than once"});
}

TEST_F(ShardErrorTest, MalformedIndex) {
  write_text(index_path(), "{\"weight_map\": {\"a\": ");
  expect_open_error(ErrorCode::kCorruptData, {index_path(), "invalid JSON"});
  write_index(json{{"metadata", json::object()}});
  expect_open_error(ErrorCode::kCorruptData, {index_path(), "\"weight_map\"", "missing"});
  write_index(json{{"weight_map", json::array()}});
  expect_open_error(ErrorCode::kCorruptData, {index_path(), "\"weight_map\"", "object"});
  write_index(json{{"weight_map", {{"model.norm.weight", 3}}}});
  expect_open_error(ErrorCode::kCorruptData, {index_path(), "model.norm.weight", "string"});
}

TEST_F(ShardErrorTest, ShardOutsideTheDirectory) {
  for (const char* shard : {"../model.safetensors", "/etc/passwd", "sub/x.safetensors", ".."}) {
    SCOPED_TRACE(shard);
    index_["weight_map"]["model.norm.weight"] = shard;
    write_index(index_);
    expect_open_error(ErrorCode::kCorruptData, {index_path(), "model.norm.weight", shard});
  }
}

TEST_F(ShardErrorTest, ShardTheIndexDoesNotName) {
  write_safetensors(dir_.file("model-00003-of-00003.safetensors"),
                    {{"model.extra.weight", {2}, {1.0f, 2.0f}}}, DType::kF32);
  expect_open_error(ErrorCode::kCorruptData,
                    {index_path(), "model-00003-of-00003.safetensors", "maps no tensor"});
}

TEST_F(ShardErrorTest, SingleFileAndIndexTogether) {
  write_checkpoint(dir_.path(), config_, weights_for(config_, true), DType::kF32);
  expect_open_error(ErrorCode::kInvalidArgument, {"model.safetensors", kWeightsIndexFile, "both"});
}

TEST_F(ShardErrorTest, NoWeightsAtAll) {
  std::filesystem::remove(index_path());
  expect_open_error(ErrorCode::kNotFound, {dir_.path(), "model.safetensors", kWeightsIndexFile});
}

TEST_F(ShardErrorTest, WrongShapeNamesTheShard) {
  auto tensors = weights_for(config_, true);
  for (auto& t : tensors) {
    if (t.name == "model.layers.1.self_attn.k_proj.weight") t.shape = {4, 32};
  }
  std::filesystem::remove_all(dir_.path());
  write_sharded(dir_.path(), config_, tensors, 2);
  const std::string shard =
      read_json(index_path())["weight_map"]["model.layers.1.self_attn.k_proj.weight"];
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kCorruptData,
               {shard, "model.layers.1.self_attn.k_proj.weight", "[4, 32]", "[8, 16]"});
}

// Every tensor is used or refused by name.
class TensorAccountingTest : public ::testing::Test {
 protected:
  void write(const ModelConfig& config, const std::vector<NamedTensor>& tensors) {
    write_checkpoint(dir_.path(), config, tensors, DType::kF32);
  }
  std::string weights() const { return dir_.file("model.safetensors"); }
  TempDir dir_;
};

TEST_F(TensorAccountingTest, UnknownTensorIsRefusedNamingItAndTheFile) {
  const ModelConfig config = tiny_config(Architecture::kLlama);
  auto tensors = weights_for(config, true);
  tensors.push_back({"model.layers.0.self_attn.rotary_bias.weight", {4}, {1, 2, 3, 4}});
  write(config, tensors);
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kUnsupported,
               {weights(), "model.layers.0.self_attn.rotary_bias.weight", "LlamaForCausalLM"});
}

TEST_F(TensorAccountingTest, Qwen3NormsOnAnotherArchitectureAreRefused) {
  // The hole this rule closes: q_norm / k_norm on a checkpoint whose config
  // does not say Qwen3 must not load and compute without them.
  ModelConfig qwen3 = tiny_config(Architecture::kQwen3);
  const auto tensors = weights_for(qwen3, true);
  ModelConfig llama = tiny_config(Architecture::kLlama);
  write(llama, tensors);
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kUnsupported,
               {weights(), "self_attn.k_norm.weight"});
  // And a Qwen3 config needs them.
  auto without = tensors;
  std::erase_if(without, [](const NamedTensor& t) { return t.name.ends_with("q_norm.weight"); });
  write(qwen3, without);
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kNotFound,
               {weights(), "model.layers.0.self_attn.q_norm.weight"});
}

TEST_F(TensorAccountingTest, BiasesTheConfigDoesNotCallForAreRefused) {
  ModelConfig qwen2 = tiny_config(Architecture::kQwen2);
  const auto with_bias = weights_for(qwen2, true);
  write(tiny_config(Architecture::kLlama), with_bias);  // Llama, attention_bias false
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kUnsupported,
               {weights(), "model.layers.0.self_attn.k_proj.bias", "and 5 more"});
  // Qwen2 needs its q/k/v biases.
  auto without = with_bias;
  std::erase_if(without, [](const NamedTensor& t) { return t.name.ends_with("v_proj.bias"); });
  write(qwen2, without);
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kNotFound,
               {weights(), "self_attn.v_proj.bias"});
  write(qwen2, with_bias);
  EXPECT_NO_THROW(Model::load(dir_.path(), f32()));
}

TEST_F(TensorAccountingTest, LmHeadBesideTiedEmbeddingsMustEqualThem) {
  ModelConfig config = tiny_config(Architecture::kLlama);
  auto tensors = weights_for(config, true);
  write(config, tensors);
  const auto expected = logits_of(*Model::load(dir_.path(), f32()));
  // A copy of the embeddings, as some tied checkpoints store: read, equal, fine.
  NamedTensor head = tensors.front();
  ASSERT_EQ(head.name, "model.embed_tokens.weight");
  head.name = "lm_head.weight";
  tensors.push_back(head);
  write(config, tensors);
  EXPECT_EQ(logits_of(*Model::load(dir_.path(), f32())), expected);
  // Different values: one of the two would be ignored, so refused.
  tensors.back().values[5] += 1.0f;
  write(config, tensors);
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kUnsupported,
               {weights(), "lm_head.weight", "tie_word_embeddings"});
}

TEST_F(TensorAccountingTest, RotaryBuffersAreIgnoredExplicitly) {
  ModelConfig config = tiny_config(Architecture::kLlama);
  auto tensors = weights_for(config, true);
  write(config, tensors);
  const auto expected = logits_of(*Model::load(dir_.path(), f32()));
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}, {1.0f, 0.01f}});
  write(config, tensors);
  EXPECT_EQ(logits_of(*Model::load(dir_.path(), f32())), expected);
}

TEST_F(TensorAccountingTest, GatesInSomeLayersOnlyAreRefused) {
  ModelConfig config = tiny_config(Architecture::kLlama);
  auto tensors = weights_for(config, true);
  std::erase_if(tensors, [](const NamedTensor& t) {
    return t.name == "model.layers.1.self_attn.memory_gate";
  });
  write(config, tensors);
  expect_error([&] { Model::load(dir_.path(), f32()); }, ErrorCode::kNotFound,
               {"model.layers.1.self_attn.memory_gate"});
}

TEST_F(TensorAccountingTest, PlainCheckpointRunsWithMemoryOff) {
  ModelConfig config = tiny_config(Architecture::kLlama);
  write(config, weights_for(config, false));
  auto off = Model::load(dir_.path(), f32());
  EXPECT_FALSE(off->memory_enabled());
  LoadOptions with_gate = f32();
  with_gate.gate = 0.5f;
  auto on = Model::load(dir_.path(), with_gate);
  EXPECT_TRUE(on->memory_enabled());

  // Memory off: every segment on its own. Two segments read after any
  // history give what the same two segments give from an empty state.
  const int64_t S = config.segment_size;
  std::vector<int32_t> history(static_cast<size_t>(3 * S));
  for (size_t i = 0; i < history.size(); ++i) history[i] = static_cast<int32_t>((7 * i + 3) % 37);
  const std::vector<int32_t> tail = {4, 8, 15, 16, 23, 1, 2};
  SessionState a = off->new_session();
  off->ingest(a, history);
  const auto after_history = off->logits_all(a, tail);
  SessionState b = off->new_session();
  const auto fresh = off->logits_all(b, tail);
  EXPECT_LT(testing::relative_error(after_history, fresh), 1e-6);
  // M and z are never written.
  for (const LayerState& layer : a.layers()) {
    std::vector<float> m(static_cast<size_t>(layer.memory.rows() * layer.memory.cols()));
    off->backend().download(layer.memory, m.data());
    for (float v : m) ASSERT_EQ(v, 0.0f);
  }
  // With untrained memory the history does matter.
  SessionState c = on->new_session();
  on->ingest(c, history);
  SessionState d = on->new_session();
  EXPECT_GT(testing::relative_error(on->logits_all(c, tail), on->logits_all(d, tail)), 1e-3);
}

TEST_F(TensorAccountingTest, SegmentSizeOption) {
  ModelConfig config = tiny_config(Architecture::kLlama);
  write(config, weights_for(config, false));
  // A plain Hugging Face config.json, without segment_size.
  json j = json::parse(config.to_json());
  j.erase("segment_size");
  write_text(dir_.file("config.json"), j.dump());
  EXPECT_EQ(Model::load(dir_.path(), f32())->config().segment_size,
            ModelConfig::kDefaultSegmentSize);
  LoadOptions options = f32();
  options.segment_size = 64;
  auto model = Model::load(dir_.path(), options);
  EXPECT_EQ(model->config().segment_size, 64);
  EXPECT_EQ(model->new_session().window_bytes(), 2 * config.num_layers * 64 * config.kv_size() * 4);
  options.segment_size = 0;
  expect_error([&] { Model::load(dir_.path(), options); }, ErrorCode::kInvalidArgument,
               {"segment size"});
}

}  // namespace
}  // namespace infini
