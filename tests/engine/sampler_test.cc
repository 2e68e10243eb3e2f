#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "engine/error.h"

namespace infini {
namespace {

TEST(SamplerTest, GreedyPicksTheLargestLogit) {
  Sampler s(SamplingParams{});
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 2.9f};
  EXPECT_EQ(s.next(logits), 1);
}

TEST(SamplerTest, SameSeedSameSequence) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f, 0.2f};
  Sampler a(p), b(p);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 50; ++i) sa.push_back(a.next(logits)), sb.push_back(b.next(logits));
  EXPECT_EQ(sa, sb);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> sc;
  for (int i = 0; i < 50; ++i) sc.push_back(c.next(logits));
  EXPECT_NE(sa, sc);
}

TEST(SamplerTest, TopKRestrictsTheChoice) {
  SamplingParams p;
  p.temperature = 5.0f;  // nearly uniform
  p.top_k = 2;
  Sampler s(p);
  std::vector<float> logits = {0.0f, 2.0f, 1.9f, 1.0f};
  std::map<int32_t, int> seen;
  for (int i = 0; i < 400; ++i) seen[s.next(logits)]++;
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[1], 0);
  EXPECT_GT(seen[2], 0);
}

TEST(SamplerTest, TopPKeepsTheNucleus) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  Sampler s(p);
  // Probabilities ~0.64, 0.24, 0.09, 0.03: the nucleus at 0.5 is token 0 alone.
  std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.next(logits), 0);
}

TEST(SamplerTest, SamplingFollowsTheDistribution) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 7;
  Sampler s(p);
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // 1:3
  int ones = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) ones += s.next(logits) == 1;
  EXPECT_NEAR(ones / static_cast<double>(n), 0.75, 0.03);
}

TEST(SamplerTest, BadParametersNameTheField) {
  auto message = [](SamplingParams p) {
    try {
      p.validate();
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_NE(message(p).find("temperature"), std::string::npos);
  p = {};
  p.top_k = -3;
  EXPECT_NE(message(p).find("top_k"), std::string::npos);
  p = {};
  p.top_p = 0.0f;
  EXPECT_NE(message(p).find("top_p"), std::string::npos);
  p = {};
  p.top_p = 1.5f;
  EXPECT_NE(message(p).find("top_p"), std::string::npos);
}

}  // namespace
}  // namespace infini
