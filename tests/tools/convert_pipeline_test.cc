// The "bring your own model" pipeline in a minute (scripts/byo-model-demo is
// the full-size run): pretrain a tiny plain Llama for a few steps
// (tools/train/pretrain_plain.py), `infini convert` it, continue it with
// memory for a few steps (tools/train/continual.py), stop and resume. Checks
// that every step runs and that the checkpoints load in the engine: the
// converted one with memory off gives the plain model's logits inside a
// segment, the continued one loads as it was written. Accuracy is the demo
// script's business, not this test's.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/model.h"
#include "engine/safetensors.h"
#include "tests/engine/test_support.h"
#include "tests/tools/cli_run.h"
#include "tests/tools/convert_test_support.h"

namespace infini {
namespace {

using testing::CliResult;
using testing::run_shell;

namespace fs = std::filesystem;
using testing::IndexedWeights;
using testing::TempDir;

const std::string kTrain = std::string(INFINI_SOURCE_DIR) + "/tools/train/";
const std::string kPython = "OMP_NUM_THREADS=1 /usr/bin/python3 ";

LoadOptions memory_off() {
  LoadOptions o;
  o.dtype = ComputeDType::kF32;
  o.gate = std::numeric_limits<float>::denorm_min();
  o.force_gate = true;
  return o;
}

TEST(ConvertPipelineTest, PretrainConvertContinueResumeAndLoad) {
  TempDir dir;
  const fs::path plain = dir.file("plain"), converted = dir.file("converted"),
                 continued = dir.file("continued");
  auto r =
      run_shell(kPython + kTrain + "pretrain_plain.py --out " + plain.string() + " --work " +
                dir.file("pretrain") +
                " --steps 2 --context 96 --hidden 32 --layers 2 --heads 2 --batch 2 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(fs::exists(plain / "model.safetensors")) << r.output;

  r = run_shell(std::string(INFINI_BIN_DIR) + "/infini convert --from " + plain.string() +
                " --out " + converted.string() + " --segment 32 --update delta");
  ASSERT_EQ(r.status, 0) << r.output;

  // Memory off, the converted model is the plain one inside every segment.
  const ModelConfig config = ModelConfig::load((converted / "config.json").string());
  EXPECT_EQ(config.segment_size, 32);
  const IndexedWeights weights(converted);
  auto off = Model::build(config, weights.lookup(), memory_off(), "converted");
  const auto source_file = SafetensorsFile::open((plain / "model.safetensors").string());
  const SafetensorsFile& sf = *source_file;
  auto source = Model::build(
      config, [&sf](const std::string& n) { return sf.has(n) ? &sf.tensor(n) : nullptr; },
      memory_off(), "plain");
  std::vector<int32_t> ids(64);
  std::mt19937 rng(1);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % config.vocab_size);
  auto a = off->new_session(), b = source->new_session();
  EXPECT_LT(testing::relative_error(off->logits_all(a, ids), source->logits_all(b, ids)), 1e-6);

  // Continual training: two steps, stopped, resumed for a third.
  const std::string continual = kPython + kTrain + "continual.py --model " + converted.string() +
                                " --out " + continued.string() + " --work " + dir.file("work") +
                                " --lengths 2 --tokens-per-step 64 --lr 1e-3 --eval-every 0" +
                                " --threads 1 --steps ";
  r = run_shell(continual + "2");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_shell(continual + "3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("at step 2"), std::string::npos) << r.output;
  std::ifstream report_file(continued / "continual-report.json");
  const auto report = nlohmann::json::parse(report_file);
  EXPECT_EQ(report["steps"], 3);
  EXPECT_TRUE(fs::exists(continued / "tokenizer.model"));
  EXPECT_TRUE(fs::exists(continued / "prompt_template.json"));

  // The continued checkpoint loads in the engine and reads a document.
  LoadOptions options;
  options.dtype = ComputeDType::kF32;
  auto trained = Model::load(continued.string(), options);
  EXPECT_EQ(trained->config().segment_size, 32);
  auto state = trained->new_session();
  const auto logits = trained->logits_all(state, ids);
  ASSERT_EQ(logits.size(), ids.size() * static_cast<size_t>(config.vocab_size));
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));

  // A plain checkpoint is refused by the trainer with what to do.
  r = run_shell(kPython + kTrain + "continual.py --model " + plain.string() + " --out " +
                dir.file("x") + " --work " + dir.file("y") + " --steps 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("run `infini convert` first"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace infini
