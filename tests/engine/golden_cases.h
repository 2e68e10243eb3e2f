// The golden vectors written by the PyTorch reference (tools/reference/):
// their names, how the engine's memory is laid out against the reference's,
// and the tolerances, shared by golden_test.cc (CPU) and
// backend_parity_model_test.cc (every backend).
#pragma once

#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/session_state.h"

namespace infini::testing {

inline const std::vector<std::string>& golden_cases() {
  static const std::vector<std::string> cases = {
      "linear_mha_tied_f32", "delta_gqa_untied_f32",     "delta_gqa_bf16",
      "linear_headdim_bias_f16", "delta_mha_long_f32",
      // Hugging Face families (tools/reference/make_golden.py says what each covers).
      "qwen2_bias_tied_bf16", "qwen3_qknorm_f32", "llama32_rope_scaling_f32",
      "smollm2_plain_f32"};
  return cases;
}

// Memory (M then z per layer) from the engine's state, in the reference's order.
inline std::vector<float> golden_memory_of(const SessionState& state) {
  std::vector<float> all = state.to_host();
  std::vector<float> out;
  size_t at = 0;
  for (const LayerState& layer : state.layers()) {
    const size_t m = static_cast<size_t>(layer.memory.rows() * layer.memory.cols());
    const size_t z = static_cast<size_t>(layer.norm.rows() * layer.norm.cols());
    const size_t window = static_cast<size_t>(layer.keys.rows() * layer.keys.cols() * 2);
    out.insert(out.end(), all.begin() + static_cast<long>(at),
               all.begin() + static_cast<long>(at + m + z));
    at += m + z + window;
  }
  return out;
}

// fp32: the design's 1e-4 relative to the largest logit. bf16: activations
// and weights are rounded to 8 significant bits (relative error 2^-9 =
// 0.2% per operand) at each of the ~8 products per layer, and the errors
// compound through the residual stream and the memory's normalised
// retrieval over 2-3 layers; 5% of the largest logit bounds that with
// margin on these cases while still failing on any wrong formula (a wrong
// rule, gate or RoPE changes logits by 10-100% of the largest).
inline double golden_tolerance(ComputeDType dtype) {
  return dtype == ComputeDType::kF32 ? 1e-4 : 5e-2;
}

}  // namespace infini::testing
