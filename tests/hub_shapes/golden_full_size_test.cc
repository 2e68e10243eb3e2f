// The engine against the float64 PyTorch reference at two real models' full
// shapes: SmolLM2-135M (30 layers, 9 heads on 3 kv heads, head_dim 64,
// tied, vocab 49152) and Qwen2.5-0.5B (24 layers, 14 heads on 2 kv heads,
// q/k/v biases, rope_theta 1e6, tied, vocab 151936). Their random bf16
// weights are generated at test time from a seed, in the Hub's layout
// (tools/reference/make_hf_checkpoint.py), never committed. A short input
// (16 tokens, one segment, memory off as for any plain checkpoint); fp32
// logits within 1e-4 of the largest, the design's bound. Qwen3-0.6B (q/k
// norm, head_dim 128 with hidden 1024) and Llama-3.2-1B (rope_scaling
// llama3, vocab 128256) at their real widths too, with two of their layers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "engine/model.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using testing::TempDir;

struct FullSizeCase {
  std::string name, family;
  int64_t layers, vocab;
  bool all_layers;  // false: --layers `layers`
};

std::string tool() {
  return std::string(INFINI_SOURCE_DIR) + "/tools/reference/make_hf_checkpoint.py";
}

void PrintTo(const FullSizeCase& c, std::ostream* out) { *out << c.name; }

void run(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

// The process's peak resident set (VmHWM), in bytes.
int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"(VmHWM:\s+(\d+) kB)"))) return -1;
  return std::stoll(m[1]) * 1024;
}

// Resets VmHWM to the current resident set (Linux: clear_refs 5).
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.close();
  return static_cast<bool>(out);
}

int64_t weight_file_bytes(const std::string& dir) {
  int64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".safetensors")
      total += static_cast<int64_t>(entry.file_size());
  }
  return total;
}

class FullSizeGoldenTest : public ::testing::TestWithParam<FullSizeCase> {};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

TEST_P(FullSizeGoldenTest, LogitsMatchTheFloat64Reference) {
  const FullSizeCase& c = GetParam();
  TempDir dir;
  const std::string model_dir = dir.file("model");
  const std::string ids_text = "1 17 923 4096 12 7 30000 5 88 2 31 44 100 3 9 40000";
  const auto start = std::chrono::steady_clock::now();
  run("/usr/bin/python3 " + tool() + " --family " + c.family + " --out " + model_dir +
      " --no-tokenizer --seed 7" + (c.all_layers ? "" : " --layers " + std::to_string(c.layers)));
  run("/usr/bin/python3 " + tool() + " --reference " + model_dir + " --ids '" + ids_text +
      "' --logits " + dir.file("reference.f32"));
  const auto expected = testing::read_f32(dir.file("reference.f32"));

  // Loading a whole model for bf16 compute holds about the file's size: the
  // mapped pages are released tensor by tensor and no fp32 copy of a weight
  // is kept (the bound allows a tensor's transient fp32 conversion and the
  // allocator's slack). Not for the two-layer cases: the fp32 conversion of
  // their embeddings alone (4 bytes a parameter, beside its bf16 copy) is
  // more than their file.
  // Under AddressSanitizer freed memory sits in quarantine and every page
  // touched gains shadow pages, so RSS says nothing about the loader there;
  // the Release pass checks the bound.
  if (c.all_layers && !kAddressSanitizer && reset_peak_rss()) {
    const int64_t before = peak_rss_bytes();
    LoadOptions bf16;
    bf16.dtype = ComputeDType::kBF16;
    auto model = Model::load(model_dir, bf16);
    const int64_t grown = peak_rss_bytes() - before;
    const int64_t file = weight_file_bytes(model_dir);
    EXPECT_LT(grown, file + file / 4 + (int64_t{64} << 20))
        << "peak RSS grew by " << grown << " bytes loading " << file << " bytes of weights";
    RecordProperty("bf16_load_peak_rss_growth_bytes", std::to_string(grown));
    RecordProperty("weight_file_bytes", std::to_string(file));
  }

  LoadOptions options;
  options.dtype = ComputeDType::kF32;
  auto model = Model::load(model_dir, options);
  EXPECT_EQ(model->config().num_layers, c.layers);
  EXPECT_EQ(model->config().vocab_size, c.vocab);
  EXPECT_FALSE(model->memory_enabled());
  std::vector<int32_t> ids;
  for (size_t at = 0; at < ids_text.size();) {
    const size_t end = ids_text.find(' ', at);
    ids.push_back(std::stoi(ids_text.substr(at, end - at)));
    at = end == std::string::npos ? ids_text.size() : end + 1;
  }
  SessionState state = model->new_session();
  const auto logits = model->logits_all(state, ids);
  ASSERT_EQ(logits.size(), expected.size());
  const double error = testing::relative_error(logits, expected);
  EXPECT_LT(error, 1e-4) << c.family;
  RecordProperty("logit_error", std::to_string(error));
  RecordProperty(
      "seconds",
      std::to_string(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
}

INSTANTIATE_TEST_SUITE_P(
    Hub, FullSizeGoldenTest,
    ::testing::Values(FullSizeCase{"SmolLM2_135M", "smollm2", 30, 49152, true},
                      FullSizeCase{"Qwen25_0_5B", "qwen2.5", 24, 151936, true},
                      FullSizeCase{"Qwen3_0_6B_2_layers", "qwen3", 2, 151936, false},
                      FullSizeCase{"Llama32_1B_2_layers", "llama3.2", 2, 128256, false}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace infini
