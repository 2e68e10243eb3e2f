// `infini convert`: a plain Llama-family checkpoint becomes an Infini one.
// The converted model with its memory forced off must give the source's
// logits (the engine's memory-off path: each segment read on its own, the
// source model inside a segment); its files, gates and index are checked,
// and every refusal has a clear message and exit status.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/checkpoint_writer.h"
#include "engine/model.h"
#include "engine/safetensors.h"
#include "tests/engine/random_model.h"
#include "tests/engine/test_support.h"
#include "tests/tools/cli_run.h"
#include "tests/tools/convert_test_support.h"

namespace infini {
namespace {

using testing::CliResult;
using testing::run_infini;

namespace fs = std::filesystem;
using nlohmann::json;
using testing::IndexedWeights;
using testing::TempDir;

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const fs::path& path, const json& value) { std::ofstream(path) << value.dump(2); }

// The segment only for writing: the plain config below drops it.
ModelConfig small_config() { return testing::small_model_config(97, 8, MemoryUpdate::kDelta); }

std::vector<NamedTensor> plain_weights(const ModelConfig& c) {
  std::vector<NamedTensor> out;
  for (auto& t : random_weights(c, 11, 0.2f, 0.0f, false)) {
    if (t.name.find("memory_gate") == std::string::npos) out.push_back(std::move(t));
  }
  return out;
}

// A plain Llama directory as Hugging Face writes it: no segment_size,
// memory_update or gates; extra keys the converter must keep; a tokenizer
// and a chat template. `shards` > 1 splits the weights over an index.
fs::path make_plain(const TempDir& dir, int shards = 1, const json& extra = json::object()) {
  const fs::path src = dir.file("plain");
  const ModelConfig c = small_config();
  auto tensors = plain_weights(c);
  write_checkpoint(src.string(), c, tensors, DType::kF32);
  json config = read_json(src / "config.json");
  config.erase("segment_size");
  config.erase("memory_update");
  config["architectures"] = {"LlamaForCausalLM"};
  config["max_position_embeddings"] = 2048;
  config["torch_dtype"] = "float32";
  config.update(extra);
  write_json(src / "config.json", config);
  if (shards > 1) {
    fs::remove(src / "model.safetensors");
    json map = json::object();
    const size_t per = (tensors.size() + shards - 1) / shards;
    for (int s = 0; s < shards; ++s) {
      const std::string name = "model-0000" + std::to_string(s + 1) + "-of-0000" +
                               std::to_string(shards) + ".safetensors";
      std::vector<NamedTensor> part(tensors.begin() + s * per,
                                    tensors.begin() + std::min(tensors.size(), (s + 1) * per));
      for (const auto& t : part) map[t.name] = name;
      write_safetensors((src / name).string(), part, DType::kBF16);
    }
    write_json(src / "model.safetensors.index.json", {{"weight_map", map}});
  }
  fs::copy_file(std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model",
                src / "tokenizer.model");
  std::ofstream(src / "chat_template.jinja") << "{{ messages }}";
  return src;
}

std::vector<int32_t> some_ids(size_t n) {
  std::mt19937 rng(3);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % 97);
  return ids;
}

LoadOptions memory_off() {
  LoadOptions o;
  o.dtype = ComputeDType::kF32;
  o.gate = std::numeric_limits<float>::denorm_min();
  o.force_gate = true;
  return o;
}

TEST(ConvertCommandTest, WritesConfigGatesIndexLinksAndCompanions) {
  TempDir dir;
  const fs::path src = make_plain(dir);
  const fs::path out = dir.file("infini");
  auto r = run_infini("convert --from " + src.string() + " --out " + out.string() +
                      " --segment 16 --update linear");
  ASSERT_EQ(r.status, 0) << r.output;

  const json config = read_json(out / "config.json");
  EXPECT_EQ(config["segment_size"], 16);
  EXPECT_EQ(config["memory_update"], "linear");
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");  // the source's, kept
  EXPECT_EQ(config["max_position_embeddings"], 2048);

  // No model.safetensors beside the index: the index is the only way in.
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  const fs::path shard = out / "model-00001-of-00001.safetensors";
  EXPECT_TRUE(fs::equivalent(shard, src / "model.safetensors")) << "not hard-linked";
  const json index = read_json(out / "model.safetensors.index.json");
  const auto source = SafetensorsFile::open((src / "model.safetensors").string());
  for (const auto& name : source->names()) {
    EXPECT_EQ(index["weight_map"][name], "model-00001-of-00001.safetensors") << name;
  }
  const auto gates = SafetensorsFile::open((out / "memory_gates.safetensors").string());
  for (int i = 0; i < 2; ++i) {
    const std::string name = "model.layers." + std::to_string(i) + ".self_attn.memory_gate";
    EXPECT_EQ(index["weight_map"][name], "memory_gates.safetensors");
    const TensorView& g = gates->tensor(name);
    EXPECT_EQ(g.dtype, DType::kF32);
    EXPECT_EQ(g.shape, std::vector<int64_t>{4});
    for (float v : g.to_f32()) EXPECT_EQ(v, -4.0f);
  }
  EXPECT_TRUE(fs::exists(out / "tokenizer.model"));
  EXPECT_TRUE(fs::exists(out / "chat_template.jinja"));
  EXPECT_FALSE(fs::exists(dir.file("infini.converting")));
}

TEST(ConvertCommandTest, MemoryOffReproducesTheSourceLogits) {
  TempDir dir;
  const fs::path src = make_plain(dir);
  const fs::path out = dir.file("infini");
  ASSERT_EQ(run_infini("convert --from " + src.string() + " --out " + out.string() +
                       " --segment 8 --update delta")
                .status,
            0);
  const IndexedWeights converted(out);
  const ModelConfig config = ModelConfig::load((out / "config.json").string());
  // The source, read as a plain Llama by the engine with its memory off.
  ModelConfig source_config = config;
  const auto source_file = SafetensorsFile::open((src / "model.safetensors").string());
  const SafetensorsFile& sf = *source_file;
  auto source = Model::build(
      source_config, [&sf](const std::string& n) { return sf.has(n) ? &sf.tensor(n) : nullptr; },
      memory_off(), "source");
  auto off = Model::build(config, converted.lookup(), memory_off(), "converted, memory off");
  LoadOptions as_converted;
  as_converted.dtype = ComputeDType::kF32;
  auto on = Model::build(config, converted.lookup(), as_converted, "converted");

  const auto ids = some_ids(24);  // three segments
  auto s1 = source->new_session(), s2 = off->new_session(), s3 = on->new_session();
  const auto expected = source->logits_all(s1, ids);
  const auto memory_off_logits = off->logits_all(s2, ids);
  EXPECT_LT(testing::relative_error(memory_off_logits, expected), 1e-6);
  // The same through the engine's own loaders: the converted directory by its
  // index, and the plain source as Model::load reads a Hugging Face
  // checkpoint (memory off, one long segment): equal inside the first segment.
  auto loaded = Model::load(out.string(), memory_off());
  auto s4 = loaded->new_session();
  EXPECT_LT(testing::relative_error(loaded->logits_all(s4, ids), expected), 1e-6);
  LoadOptions plain_options;
  plain_options.dtype = ComputeDType::kF32;
  auto plain = Model::load(src.string(), plain_options);
  auto s5 = plain->new_session();
  const auto plain_logits = plain->logits_all(s5, ids);
  EXPECT_LT(testing::relative_error(
                std::vector<float>(memory_off_logits.begin(), memory_off_logits.begin() + 8 * 97),
                std::vector<float>(plain_logits.begin(), plain_logits.begin() + 8 * 97)),
            1e-6);
  // With its own gates (sigmoid(-4) = 0.018) the converted model is close to
  // the source inside the first segment, and not identical: the gates load.
  const auto gated = on->logits_all(s3, ids);
  const std::vector<float> first(gated.begin(), gated.begin() + 8 * 97);
  const std::vector<float> first_expected(expected.begin(), expected.begin() + 8 * 97);
  const double err = testing::relative_error(first, first_expected);
  EXPECT_GT(err, 1e-6);
  EXPECT_LT(err, 0.05);
}

TEST(ConvertCommandTest, ShardedBf16SourceKeepsItsShards) {
  TempDir dir;
  const fs::path src = make_plain(dir, 2);
  const fs::path out = dir.file("infini");
  auto r = run_infini("convert --from " + src.string() + " --out " + out.string() +
                      " --segment 8 --update delta --copy");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 weight file(s) linked, 2 copied"), std::string::npos) << r.output;
  const json index = read_json(out / "model.safetensors.index.json");
  EXPECT_EQ(index["weight_map"]["model.embed_tokens.weight"], "model-00001-of-00002.safetensors");
  EXPECT_EQ(index["weight_map"]["model.norm.weight"], "model-00002-of-00002.safetensors");
  const IndexedWeights converted(out);
  const ModelConfig config = ModelConfig::load((out / "config.json").string());
  auto model = Model::build(config, converted.lookup(), memory_off(), "sharded");
  auto state = model->new_session();
  EXPECT_EQ(model->logits_all(state, some_ids(10)).size(), 10u * 97u);
}

TEST(ConvertCommandTest, ForceStartsAnInfiniCheckpointsGatesOver) {
  TempDir dir;
  const fs::path src = make_plain(dir);
  const fs::path once = dir.file("once"), twice = dir.file("twice");
  ASSERT_EQ(run_infini("convert --from " + src.string() + " --out " + once.string() +
                       " --segment 8 --update delta")
                .status,
            0);
  auto r = run_infini("convert --from " + once.string() + " --out " + twice.string() +
                      " --segment 8 --update delta");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("already an Infini checkpoint (2 memory_gate tensors); pass --force"),
            std::string::npos) << r.output;
  // A make-model checkpoint holds its gates in model.safetensors itself.
  const fs::path random = dir.file("random");
  ASSERT_EQ(run_infini("make-model --out " + random.string() +
                       " --seed 1 --vocab 97 --hidden 32 "
                       "--heads 4 --gate-logit 1.5")
                .status,
            0);
  r = run_infini("convert --from " + random.string() + " --out " + twice.string() +
                 " --segment 8 --update delta --force --gate-logit -3");
  ASSERT_EQ(r.status, 0) << r.output;
  // The old gates left the rewritten shard; the index lists each tensor once.
  const auto shard = SafetensorsFile::open((twice / "model-00001-of-00001.safetensors").string());
  for (const auto& name : shard->names()) EXPECT_EQ(name.find("memory_gate"), std::string::npos);
  const auto gates = SafetensorsFile::open((twice / "memory_gates.safetensors").string());
  EXPECT_EQ(gates->tensor("model.layers.0.self_attn.memory_gate").to_f32()[0], -3.0f);
  EXPECT_TRUE(fs::exists(twice / "UNTRAINED"));
}

TEST(ConvertCommandTest, RefusesBadInput) {
  TempDir dir;
  const fs::path src = make_plain(dir);
  const std::string ok = " --segment 8 --update delta";
  fs::create_directories(dir.file("empty"));
  fs::create_directories(dir.file("full"));
  std::ofstream(dir.file("full") + "/x") << "x";
  fs::create_directories(dir.file("config_only"));
  fs::copy_file(src / "config.json", dir.file("config_only") + "/config.json");
  TempDir other;
  const fs::path scaled = make_plain(other, 1, {{"rope_scaling", {{"rope_type", "yarn"}}}});
  struct Case {
    std::string args;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"--from " + dir.file("nope") + " --out " + dir.file("o") + ok, 1,
       "not a checkpoint: no such directory"},
      {"--from " + dir.file("empty") + " --out " + dir.file("o") + ok, 1,
       "not a checkpoint: no config.json"},
      {"--from " + dir.file("config_only") + " --out " + dir.file("o") + ok, 1,
       "not a checkpoint: neither model.safetensors.index.json nor model.safetensors"},
      {"--from " + src.string() + " --out " + dir.file("full") + ok, 1,
       "exists and is not an empty directory"},
      {"--from " + src.string() + " --out " + dir.file("o") + " --segment 0 --update delta", 2,
       "--segment must be between 1 and 1048576"},
      {"--from " + src.string() + " --out " + dir.file("o") + " --segment many --update delta", 2,
       "--segment expects an integer"},
      {"--from " + src.string() + " --out " + dir.file("o") + " --update delta", 2,
       "--segment is required"},
      {"--from " + src.string() + " --out " + dir.file("o") + " --segment 8 --update fast", 2,
       "--update must be delta or linear, got 'fast'"},
      {"--from " + src.string() + " --out " + dir.file("o") + " --segment 8", 2,
       "--update is required"},
      {"--from " + src.string() + " --out " + dir.file("o") + ok + " --gate-logit nan", 2,
       "--gate-logit must be a finite number"},
      {"--from " + scaled.string() + " --out " + dir.file("o") + ok, 1, "rope_scaling"},
  };
  for (const auto& c : cases) {
    auto r = run_infini("convert " + c.args);
    EXPECT_EQ(r.status, c.status) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(dir.file("o")));  // nothing half-written by any refusal
  // An empty --out directory is fine.
  auto r = run_infini("convert --from " + src.string() + " --out " + dir.file("empty") + ok);
  EXPECT_EQ(r.status, 0) << r.output;
}

}  // namespace
}  // namespace infini
