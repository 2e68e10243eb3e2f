// `infini run` and `infini-server` on checkpoints laid out exactly as four
// Hugging Face Hub models (SmolLM2-135M-Instruct, Qwen2.5-0.5B-Instruct,
// Qwen3-0.6B, Llama-3.2-1B-Instruct): their config.json, generation config,
// tensor names, safetensors files (single or sharded with an index) and
// real tokenizer files (tools/reference/make_hf_checkpoint.py; random
// weights, one layer, for speed). And bad checkpoints: each fails naming
// the file and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/checkpoint_writer.h"
#include "tests/engine/test_support.h"
#include "tests/tools/cli_run.h"

namespace infini {
namespace {

using testing::CliResult;
using testing::run_shell;

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

const std::string kBin = INFINI_BIN_DIR;

// Writes a checkpoint of `family` into `dir` (the tool's flags after it).
void make_checkpoint(const std::string& family, const std::string& dir, const std::string& flags) {
  const CliResult r = run_shell("/usr/bin/python3 " + std::string(INFINI_SOURCE_DIR) +
                                "/tools/reference/make_hf_checkpoint.py --family " + family +
                                " --out " + dir + " --layers 1 " + flags);
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

// CTest runs every test in a process of its own, so each test makes the
// checkpoint it needs once (seconds: the full vocabularies) and checks
// everything on it.
class HubFamilyTest : public ::testing::TestWithParam<Family> {
 protected:
  std::string document() {
    const std::string path = root_.file("doc.txt");
    std::ofstream(path) << "The pass key is 71432. Remember it. The grass is green. The sky is "
                           "blue. The sun is yellow. Here we go. There and back again. ";
    return path;
  }
  TempDir root_;
};

TEST_P(HubFamilyTest, LoadsRunsAndServes) {
  const std::string dir = root_.file(GetParam().name);
  make_checkpoint(GetParam().name, dir, GetParam().flags);

  // Laid out as on the Hub.
  for (const char* file :
       {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + file)) << file;
  }
  const bool sharded = GetParam().flags.find("--shards") != std::string::npos;
  EXPECT_EQ(fs::exists(dir + "/model.safetensors.index.json"), sharded);
  EXPECT_EQ(fs::exists(dir + "/model.safetensors"), !sharded);
  const json config = read_json(dir + "/config.json");
  EXPECT_FALSE(config.contains("segment_size")) << "a Hub config knows nothing of segments";

  // infini run reads a document and generates.
  const CliResult r = run_shell(kBin + "/infini run --model " + dir + " --doc " + document() +
                                " --question 'What is the pass key?' --max-tokens 4 --no-progress"
                                " --segment-size 16");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("segment 16 tokens"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("generated "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("random, untrained weights"), std::string::npos) << r.output;

  // infini-server starts in the background; "listening on" means the model,
  // tokenizer and service are up. Then SIGTERM and the exit status.
  const std::string log = root_.file("server.log");
  const CliResult server =
      run_shell("(" + kBin + "/infini-server --model " + dir +
                " --listen 127.0.0.1:0 --metrics-listen '' > " + log +
                " 2>&1 & pid=$!; for i in $(seq 1200); do grep -q 'listening on' " + log +
                " && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done; "
                "grep -q 'listening on' " +
                log + "; up=$?; kill -TERM $pid; wait $pid; exit $up)");
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(server.status, 0) << text;
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
// which file and which key or tensor. Each case spoils its own copy of one
// good sharded checkpoint, made once.
struct BadCase {
  std::string name;
  std::function<void(const std::string& dir)> spoil;
  std::vector<std::string> expected;  // what the error names
};

void edit_config(const std::string& dir, const std::function<void(json&)>& change) {
  json config = read_json(dir + "/config.json");
  change(config);
  write_json(dir + "/config.json", config);
}

TEST(BadCheckpointTest, EachFailsNamingTheFileAndTheKey) {
  TempDir root;
  make_checkpoint("smollm2", root.file("good"), "--shards 2 --no-tokenizer");
  std::ofstream(root.file("doc.txt")) << "Some text.";
  const std::vector<BadCase> cases = {
      {"missing shard",
       [](const std::string& dir) { fs::remove(dir + "/model-00002-of-00002.safetensors"); },
       {"model.safetensors.index.json", "model-00002-of-00002.safetensors", "missing"}},
      {"tensor of the wrong shape",
       [](const std::string& dir) {
         // The files hold 1536-row MLP weights.
         edit_config(dir, [](json& c) { c["intermediate_size"] = 1024; });
       },
       {".safetensors", "model.layers.0.mlp.gate_proj.weight", "[1536, 576]", "[1024, 576]"}},
      {"unknown tensor",
       [](const std::string& dir) {
         write_safetensors(
             dir + "/model-extra.safetensors",
             {{"model.layers.0.self_attn.q_norm.weight", {64}, std::vector<float>(64, 1.0f)}},
             DType::kBF16);
         json index = read_json(dir + "/model.safetensors.index.json");
         index["weight_map"]["model.layers.0.self_attn.q_norm.weight"] = "model-extra.safetensors";
         write_json(dir + "/model.safetensors.index.json", index);
       },
       {"model-extra.safetensors", "model.layers.0.self_attn.q_norm.weight", "LlamaForCausalLM"}},
      {"unknown architecture",
       [](const std::string& dir) {
         edit_config(dir, [](json& c) {
           c["architectures"] = {"MistralForCausalLM"};
           c["model_type"] = "mistral";
         });
       },
       {"config.json", "\"architectures\"", "MistralForCausalLM"}},
      {"unsupported rope_scaling",
       [](const std::string& dir) {
         edit_config(dir, [](json& c) {
           c["rope_scaling"] = {
               {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 2048}};
         });
       },
       {"config.json", "\"rope_scaling\"", "yarn"}},
      {"sliding window on",
       [](const std::string& dir) {
         edit_config(dir, [](json& c) { c["use_sliding_window"] = true; });
       },
       {"config.json", "\"use_sliding_window\""}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = root.file("bad");
    fs::remove_all(dir);
    fs::copy(root.file("good"), dir, fs::copy_options::recursive);
    c.spoil(dir);
    const CliResult r = run_shell(kBin + "/infini run --model " + dir + " --doc " +
                                  root.file("doc.txt") + " --question q --no-progress");
    EXPECT_NE(r.status, 0) << r.output;
    for (const std::string& part : c.expected) {
      EXPECT_NE(r.output.find(part), std::string::npos)
          << "output does not mention \"" << part << "\":\n"
          << r.output;
    }
  }
}

}  // namespace
}  // namespace infini
