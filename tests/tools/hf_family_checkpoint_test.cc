// `infini run` and `infini-server` on checkpoints laid out exactly as four
// Hugging Face Hub models (SmolLM2-135M-Instruct, Qwen2.5-0.5B-Instruct,
// Qwen3-0.6B, Llama-3.2-1B-Instruct): their config.json, generation config,
// tensor names, safetensors files (single or sharded with an index) and
// real tokenizer files (tools/reference/make_hf_checkpoint.py; random
// weights, one layer, for speed). And bad checkpoints: each fails naming
// the file and the key.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/checkpoint_writer.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr together
};

Result shell(const std::string& command) {
  Result r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

const std::string kBin = INFINI_BIN_DIR;

// Writes a checkpoint of `family` into `dir` (the tool's flags after it).
void make_checkpoint(const std::string& family, const std::string& dir, const std::string& flags) {
  const Result r = shell("/usr/bin/python3 " + std::string(INFINI_SOURCE_DIR) +
                         "/tools/reference/make_hf_checkpoint.py --family " + family + " --out " +
                         dir + " --layers 1 " + flags);
  ASSERT_EQ(r.status, 0) << r.output;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

struct Family {
  std::string name;
  std::string flags;  // layout: single file or shards
};

void PrintTo(const Family& family, std::ostream* out) { *out << family.name; }

// One checkpoint per family for the whole suite (making one takes seconds).
class HubFamilyTest : public ::testing::TestWithParam<Family> {
 protected:
  static void SetUpTestSuite() { root_ = new TempDir(); }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }
  std::string model_dir() {
    const std::string dir = root_->file(GetParam().name);
    if (!fs::exists(dir + "/config.json")) make_checkpoint(GetParam().name, dir, GetParam().flags);
    return dir;
  }
  std::string document() {
    const std::string path = root_->file("doc.txt");
    std::ofstream(path) << "The pass key is 71432. Remember it. The grass is green. The sky is "
                           "blue. The sun is yellow. Here we go. There and back again. ";
    return path;
  }
  static TempDir* root_;
};

TempDir* HubFamilyTest::root_ = nullptr;

TEST_P(HubFamilyTest, LaidOutAsOnTheHub) {
  const std::string dir = model_dir();
  for (const char* file :
       {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + file)) << file;
  }
  const bool sharded = GetParam().flags.find("--shards") != std::string::npos;
  EXPECT_EQ(fs::exists(dir + "/model.safetensors.index.json"), sharded);
  EXPECT_EQ(fs::exists(dir + "/model.safetensors"), !sharded);
  const json config = read_json(dir + "/config.json");
  EXPECT_FALSE(config.contains("segment_size")) << "a Hub config knows nothing of segments";
}

TEST_P(HubFamilyTest, InfiniRunReadsAndGenerates) {
  const std::string dir = model_dir();
  const Result r = shell(kBin + "/infini run --model " + dir + " --doc " + document() +
                         " --question 'What is the pass key?' --max-tokens 4 --no-progress"
                         " --segment-size 16");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("segment 16 tokens"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("generated "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("random, untrained weights"), std::string::npos) << r.output;
}

TEST_P(HubFamilyTest, ServerStarts) {
  const std::string dir = model_dir();
  const std::string log = root_->file(GetParam().name + "-server.log");
  // Started in the background; "listening on" means the model, tokenizer
  // and service are up. Then SIGTERM and the exit status.
  const Result r = shell("(" + kBin + "/infini-server --model " + dir +
                         " --listen 127.0.0.1:0 --metrics-listen '' > " + log +
                         " 2>&1 & pid=$!; "
                         "for i in $(seq 1200); do grep -q 'listening on' " +
                         log +
                         " && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done; "
                         "grep -q 'listening on' " +
                         log + "; up=$?; kill -TERM $pid; wait $pid; exit $up)");
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(r.status, 0) << text;
}

INSTANTIATE_TEST_SUITE_P(Hub, HubFamilyTest,
                         ::testing::Values(Family{"smollm2", ""}, Family{"qwen2.5", ""},
                                           Family{"qwen3", ""}, Family{"llama3.2", "--shards 2"}),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name) c = c == '.' ? '_' : c;
                           return name;
                         });

// Bad checkpoints: `infini run` fails before reading anything, and says
// which file and which key or tensor. Each test spoils its own copy of one
// good sharded checkpoint.
class BadCheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pristine_ = new TempDir();
    make_checkpoint("smollm2", pristine_->file("model"), "--shards 2 --no-tokenizer");
  }
  static void TearDownTestSuite() {
    delete pristine_;
    pristine_ = nullptr;
  }
  void SetUp() override {
    fs::copy(pristine_->file("model"), dir(), fs::copy_options::recursive);
    std::ofstream(doc_.file("doc.txt")) << "Some text.";
  }
  std::string dir() const { return dir_.file("model"); }
  std::string file(const std::string& name) const { return dir() + "/" + name; }
  Result run() const {
    return shell(kBin + "/infini run --model " + dir() + " --doc " + doc_.file("doc.txt") +
                 " --question q --no-progress");
  }
  void expect_failure(const std::vector<std::string>& parts) const {
    const Result r = run();
    EXPECT_NE(r.status, 0) << r.output;
    for (const std::string& part : parts) {
      EXPECT_NE(r.output.find(part), std::string::npos)
          << "output does not mention \"" << part << "\":\n"
          << r.output;
    }
  }
  TempDir dir_, doc_;
  static TempDir* pristine_;
};

TempDir* BadCheckpointTest::pristine_ = nullptr;

TEST_F(BadCheckpointTest, MissingShard) {
  fs::remove(file("model-00002-of-00002.safetensors"));
  expect_failure({"model.safetensors.index.json", "model-00002-of-00002.safetensors", "missing"});
}

TEST_F(BadCheckpointTest, TensorOfTheWrongShape) {
  json config = read_json(file("config.json"));
  config["intermediate_size"] = 1024;  // the files hold 1536-row MLP weights
  write_json(file("config.json"), config);
  expect_failure(
      {".safetensors", "model.layers.0.mlp.gate_proj.weight", "[1536, 576]", "[1024, 576]"});
}

TEST_F(BadCheckpointTest, UnknownTensor) {
  write_safetensors(
      file("model-extra.safetensors"),
      {{"model.layers.0.self_attn.q_norm.weight", {64}, std::vector<float>(64, 1.0f)}},
      DType::kBF16);
  json index = read_json(file("model.safetensors.index.json"));
  index["weight_map"]["model.layers.0.self_attn.q_norm.weight"] = "model-extra.safetensors";
  write_json(file("model.safetensors.index.json"), index);
  expect_failure(
      {"model-extra.safetensors", "model.layers.0.self_attn.q_norm.weight", "LlamaForCausalLM"});
}

TEST_F(BadCheckpointTest, UnknownArchitecture) {
  json config = read_json(file("config.json"));
  config["architectures"] = {"MistralForCausalLM"};
  config["model_type"] = "mistral";
  write_json(file("config.json"), config);
  expect_failure({"config.json", "\"architectures\"", "MistralForCausalLM"});
}

TEST_F(BadCheckpointTest, UnsupportedRopeScaling) {
  json config = read_json(file("config.json"));
  config["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 2048}};
  write_json(file("config.json"), config);
  expect_failure({"config.json", "\"rope_scaling\"", "yarn"});
}

TEST_F(BadCheckpointTest, SlidingWindowOn) {
  json config = read_json(file("config.json"));
  config["use_sliding_window"] = true;
  write_json(file("config.json"), config);
  expect_failure({"config.json", "\"use_sliding_window\""});
}

}  // namespace
}  // namespace infini
