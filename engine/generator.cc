#include "engine/generator.h"

#include <algorithm>
#include <chrono>

#include "engine/error.h"

namespace infini {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kEndOfText: return "end_of_text";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

// Length of the longest suffix of `text` that is a proper prefix of a stop
// string: that much must be held back, it may become a stop.
size_t held_back(const std::string& text, const std::vector<std::string>& stop) {
  size_t hold = 0;
  for (const auto& s : stop) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

// A trailing replacement character may be an incomplete UTF-8 sequence made
// of byte pieces; it is held until the next token completes it.
size_t incomplete_tail(const std::string& text) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  if (text.size() >= 3 && text.compare(text.size() - 3, 3, kReplacement) == 0) return 3;
  return 0;
}

}  // namespace

GenerationResult generate(const Model& model, const Tokenizer& tokenizer, SessionState& state,
                          const GenerationRequest& request,
                          const std::function<bool(std::string_view)>& on_text) {
  if (request.prompt.empty()) {
    throw EngineError(ErrorCode::kInvalidArgument, "generation needs a non-empty prompt");
  }
  if (request.max_tokens < 1) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "max_tokens must be >= 1, got " + std::to_string(request.max_tokens));
  }
  for (const auto& s : request.stop) {
    if (s.empty()) throw EngineError(ErrorCode::kInvalidArgument, "stop strings must not be empty");
  }
  Sampler sampler(request.sampling);
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  GenerationResult result;
  result.prompt_tokens = static_cast<int64_t>(request.prompt.size());
  std::vector<float> logits = model.logits_last(state, request.prompt);
  const size_t sample_size =
      std::min(logits.size(), static_cast<size_t>(std::max<int64_t>(1, tokenizer.vocab_size())));
  std::vector<int32_t> generated;
  std::string text;
  size_t sent = 0;
  auto emit = [&](size_t upto) {
    if (upto <= sent) return true;
    const bool keep_going = on_text(std::string_view(text).substr(sent, upto - sent));
    sent = upto;
    return keep_going;
  };

  while (true) {
    // Checkpoints often pad the vocabulary past the tokenizer's pieces; ids
    // the tokenizer cannot decode are never sampled.
    const int32_t id = sampler.next(std::span<const float>(logits).first(sample_size));
    if (generated.empty()) result.first_token_seconds = seconds();
    if (std::find(request.stop_ids.begin(), request.stop_ids.end(), id) != request.stop_ids.end()) {
      result.finish = FinishReason::kStop;
      break;
    }
    if (id == tokenizer.eos_id() && !request.ignore_eos) {
      result.finish = FinishReason::kEndOfText;
      break;
    }
    generated.push_back(id);
    text = tokenizer.decode(generated);

    size_t stop_at = std::string::npos;
    for (const auto& s : request.stop) stop_at = std::min(stop_at, text.find(s));
    if (stop_at != std::string::npos) {
      text.resize(stop_at);
      result.finish = FinishReason::kStop;
      break;
    }
    if (static_cast<int32_t>(generated.size()) >= request.max_tokens) {
      result.finish = FinishReason::kLength;
      break;
    }
    const size_t hold = std::max(held_back(text, request.stop), incomplete_tail(text));
    if (!emit(text.size() - hold)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    // The token becomes part of the stream: fills the window, folds segments.
    logits = model.logits_last(state, std::span<const int32_t>(&generated.back(), 1));
  }
  if (result.finish != FinishReason::kCancelled) emit(text.size());
  result.text = text.substr(0, std::max(sent, result.finish == FinishReason::kCancelled ? sent : text.size()));
  result.generated_tokens = static_cast<int64_t>(generated.size());
  result.total_seconds = seconds();
  return result;
}

}  // namespace infini
