// Generation on a forked session state: feeds the prompt, then samples token
// by token, streaming text deltas, until a stop string, end of text or the
// token limit. Generated tokens continue the stream (and fill segments) as
// the design requires.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/session_state.h"
#include "engine/tokenizer.h"

namespace infini {

enum class FinishReason { kLength, kStop, kEndOfText, kCancelled };
const char* finish_reason_name(FinishReason reason);

struct GenerationRequest {
  std::vector<int32_t> prompt;  // at least one token
  SamplingParams sampling;
  int32_t max_tokens = 64;
  std::vector<std::string> stop;
  // Token ids that end generation with FinishReason::kStop, not emitted as
  // text: a chat model's end-of-turn and eos ids (PromptTemplate::stop_ids).
  // Checked before the tokenizer's eos, and kept with ignore_eos.
  std::vector<int32_t> stop_ids;
  bool ignore_eos = false;  // keep going past end-of-text (benchmarks, tests)
};

struct GenerationResult {
  std::string text;
  FinishReason finish = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double first_token_seconds = 0.0;
  double total_seconds = 0.0;
};

// `on_text` receives each new piece of text; returning false cancels.
GenerationResult generate(const Model& model, const Tokenizer& tokenizer, SessionState& state,
                          const GenerationRequest& request,
                          const std::function<bool(std::string_view)>& on_text);

}  // namespace infini
