#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/error.h"

namespace infini {

void SamplingParams::validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "temperature must be >= 0, got " + std::to_string(temperature));
  }
  if (top_k < 0) {
    throw EngineError(ErrorCode::kInvalidArgument, "top_k must be >= 0, got " + std::to_string(top_k));
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "top_p must be in (0, 1], got " + std::to_string(top_p));
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  params_.validate();
}

int32_t Sampler::next(std::span<const float> logits) {
  if (logits.empty()) throw EngineError(ErrorCode::kInternal, "sampling from empty logits");
  if (params_.temperature == 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  size_t keep = logits.size();
  if (params_.top_k > 0) keep = std::min(keep, static_cast<size_t>(params_.top_k));
  // Ties broken by id so that a seed reproduces the same choice everywhere.
  auto better = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<long>(keep), order.end(), better);
  order.resize(keep);

  std::vector<double> probs(keep);
  const double max = logits[order[0]];
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp((logits[order[i]] - max) / params_.temperature);
    sum += probs[i];
  }
  if (params_.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / sum;
      if (cumulative >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
    probs.resize(cut);
    sum = std::accumulate(probs.begin(), probs.end(), 0.0);
  }
  std::uniform_real_distribution<double> uniform(0.0, sum);
  double r = uniform(rng_);
  for (size_t i = 0; i < probs.size(); ++i) {
    r -= probs[i];
    if (r <= 0.0) return order[i];
  }
  return order[probs.size() - 1];
}

}  // namespace infini
