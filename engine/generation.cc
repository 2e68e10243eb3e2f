#include "engine/generation.h"

#include <algorithm>

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

const GenerationRequest& checked(const GenerationRequest& request) {
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
  return request;
}

}  // namespace

Generation::Generation(const Tokenizer& tokenizer, GenerationRequest request, TextSink on_text)
    : tokenizer_(tokenizer),
      request_(std::move(request)),
      on_text_(std::move(on_text)),
      sampler_(checked(request_).sampling),
      start_(std::chrono::steady_clock::now()) {
  result_.prompt_tokens = static_cast<int64_t>(request_.prompt.size());
}

double Generation::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

bool Generation::emit(size_t upto) {
  if (upto <= sent_) return true;
  const bool keep_going = on_text_(std::string_view(text_).substr(sent_, upto - sent_));
  sent_ = upto;
  return keep_going;
}

void Generation::finish(FinishReason reason) {
  finished_ = true;
  result_.finish = reason;
  if (reason != FinishReason::kCancelled) emit(text_.size());
  result_.text = text_.substr(0, reason == FinishReason::kCancelled ? sent_ : text_.size());
  result_.generated_tokens = static_cast<int64_t>(generated_.size());
  result_.total_seconds = seconds();
}

bool Generation::advance(std::span<const float> logits) {
  if (finished_) {
    throw EngineError(ErrorCode::kInternal, "advance on a finished generation");
  }
  // Checkpoints often pad the vocabulary past the tokenizer's pieces; ids
  // the tokenizer cannot decode are never sampled.
  const size_t sample_size =
      std::min(logits.size(), static_cast<size_t>(std::max<int64_t>(1, tokenizer_.vocab_size())));
  const int32_t id = sampler_.next(logits.first(sample_size));
  if (generated_.empty()) result_.first_token_seconds = seconds();
  if (std::find(request_.stop_ids.begin(), request_.stop_ids.end(), id) !=
      request_.stop_ids.end()) {
    finish(FinishReason::kStop);
    return false;
  }
  if (id == tokenizer_.eos_id() && !request_.ignore_eos) {
    finish(FinishReason::kEndOfText);
    return false;
  }
  generated_.push_back(id);
  text_ = tokenizer_.decode(generated_);

  size_t stop_at = std::string::npos;
  for (const auto& s : request_.stop) stop_at = std::min(stop_at, text_.find(s));
  if (stop_at != std::string::npos) {
    text_.resize(stop_at);
    finish(FinishReason::kStop);
    return false;
  }
  if (static_cast<int32_t>(generated_.size()) >= request_.max_tokens) {
    finish(FinishReason::kLength);
    return false;
  }
  const size_t hold = std::max(held_back(text_, request_.stop), incomplete_tail(text_));
  if (!emit(text_.size() - hold)) {
    finish(FinishReason::kCancelled);
    return false;
  }
  // The caller reads next_token(): it continues the stream (fills the
  // window, folds segments) as the design requires.
  return true;
}

}  // namespace infini
