// Picks the next token from logits: greedy, or temperature / top-k / top-p
// sampling from a seeded generator (the same seed gives the same text).
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace infini {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int32_t top_k = 0;         // 0: no limit
  float top_p = 1.0f;        // 1: no nucleus cut
  uint64_t seed = 0;

  // Throws EngineError(kInvalidArgument) naming the field.
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  int32_t next(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace infini
