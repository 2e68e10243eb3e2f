// One answer in the making: its sampler, its text so far, its stop strings
// and limits, advanced one token at a time by whoever runs the model, alone
// (generate(), generator.h) or in a decode batch with other answers
// (decode_batch.h). It never calls the model itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler.h"
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
using TextSink = std::function<bool(std::string_view)>;

class Generation {
 public:
  // Checks the request (EngineError kInvalidArgument: an empty prompt,
  // max_tokens < 1, an empty stop string). The clock of first_token_seconds
  // and total_seconds starts here.
  Generation(const Tokenizer& tokenizer, GenerationRequest request, TextSink on_text);

  const GenerationRequest& request() const { return request_; }

  // Takes the logits after the last token read (the prompt's last, then each
  // next_token()), samples the next token and emits the text it completes.
  // True: the answer goes on and next_token() is the token to read next.
  // False: it is finished (result() is complete).
  bool advance(std::span<const float> logits);
  int32_t next_token() const { return generated_.back(); }
  bool finished() const { return finished_; }
  const GenerationResult& result() const { return result_; }

 private:
  bool emit(size_t upto);
  void finish(FinishReason reason);
  double seconds() const;

  const Tokenizer& tokenizer_;
  GenerationRequest request_;
  TextSink on_text_;
  Sampler sampler_;
  std::chrono::steady_clock::time_point start_;
  std::vector<int32_t> generated_;
  std::string text_;
  size_t sent_ = 0;
  bool finished_ = false;
  GenerationResult result_;
};

}  // namespace infini
