// The engine against the PyTorch reference (tools/reference/): logits at
// every position and the final compressive memory, for each golden case, fed
// whole and in chunks, in the fp32 and the bf16 path.
#include <gtest/gtest.h>

#include "engine/model.h"
#include "tests/engine/golden_cases.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using testing::read_f32;
using testing::read_ids;
using testing::relative_error;

struct GoldenParam {
  std::string name;
  ComputeDType dtype;
  size_t chunk;  // 0: all at once
};

std::string param_name(const ::testing::TestParamInfo<GoldenParam>& info) {
  return info.param.name + "_" + compute_dtype_name(info.param.dtype) + "_chunk" +
         std::to_string(info.param.chunk);
}

std::vector<GoldenParam> all_params() {
  std::vector<GoldenParam> out;
  for (const std::string& name : testing::golden_cases()) {
    for (size_t chunk : {0, 1, 3, 7}) out.push_back({name, ComputeDType::kF32, chunk});
    out.push_back({name, ComputeDType::kBF16, 0});
    out.push_back({name, ComputeDType::kBF16, 1});
  }
  return out;
}

class GoldenTest : public ::testing::TestWithParam<GoldenParam> {};

TEST_P(GoldenTest, LogitsAndMemoryMatchReference) {
  const GoldenParam& p = GetParam();
  const std::string dir = testing::data_dir() + "/golden/" + p.name;
  LoadOptions options;
  options.dtype = p.dtype;
  auto model = Model::load(dir, options);
  const auto ids = read_ids(dir + "/ids.txt");
  const auto expected = read_f32(dir + "/logits.f32");
  const auto expected_memory = read_f32(dir + "/memory.f32");
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
  EXPECT_EQ(state.segments(), static_cast<int64_t>(ids.size()) / model->config().segment_size);

  // The bounds and why: tests/engine/golden_cases.h.
  const double tolerance = testing::golden_tolerance(p.dtype);
  const double logit_error = relative_error(logits, expected);
  EXPECT_LT(logit_error, tolerance) << "logits of " << p.name;
  const double memory_error = relative_error(testing::golden_memory_of(state), expected_memory);
  EXPECT_LT(memory_error, tolerance) << "memory of " << p.name;
  RecordProperty("logit_error", std::to_string(logit_error));
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenTest, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace infini
