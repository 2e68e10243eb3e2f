#include "tools/infini/eval_runner.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string_view>

#include "engine/generator.h"

namespace infini::tool {

std::vector<int32_t> encode_document(std::shared_ptr<const Tokenizer> tokenizer,
                                     const std::string& document_prefix,
                                     const std::string& document) {
  std::vector<PromptPiece> prefix;
  if (!document_prefix.empty()) prefix.push_back(PromptPiece{document_prefix, false});
  return encode_document(std::move(tokenizer), prefix, document);
}

std::vector<int32_t> encode_document(std::shared_ptr<const Tokenizer> tokenizer,
                                     const std::vector<PromptPiece>& document_prefix,
                                     const std::string& document) {
  constexpr size_t kChunkBytes = 64 * 1024;
  StreamingEncoder encoder(std::move(tokenizer));
  std::vector<int32_t> ids;
  auto append = [&ids](const std::vector<int32_t>& more) {
    ids.insert(ids.end(), more.begin(), more.end());
  };
  append(push_pieces(encoder, document_prefix));
  const std::string_view text(document);
  for (size_t at = 0; at < text.size(); at += kChunkBytes)
    append(encoder.push(text.substr(at, kChunkBytes)));
  append(encoder.finish());
  return ids;
}

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, const std::vector<PromptPiece>& pieces) {
  std::vector<int32_t> ids;
  for (const auto& piece : pieces) {
    const auto more =
        tokenizer.encode(piece.text, piece.is_template ? SpecialTokens::kParse : SpecialTokens::kAsText);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  return ids;
}

LoadOptions memory_off_options(LoadOptions options) {
  options.gate = std::numeric_limits<float>::denorm_min();
  options.force_gate = true;
  return options;
}

size_t memory_off_start(size_t document_tokens, int64_t segment_size) {
  const auto S = static_cast<size_t>(segment_size);
  return document_tokens / S * S;
}

size_t last_segment_start(size_t document_tokens, int64_t segment_size) {
  const auto S = static_cast<size_t>(segment_size);
  return document_tokens > S ? document_tokens - S : 0;
}

AnswerRun answer_after(const Model& model, const Tokenizer& tokenizer,
                       std::span<const int32_t> document, const std::vector<int32_t>& prompt,
                       int32_t max_tokens, const std::vector<std::string>& stop,
                       const std::function<void(int64_t, double)>& on_progress,
                       const std::vector<int32_t>& stop_ids) {
  // Big enough to keep the matrices busy, small enough to report progress on
  // a million-token document.
  const size_t chunk = static_cast<size_t>(std::max<int64_t>(model.config().segment_size, 1)) * 16;
  AnswerRun run;
  SessionState state = model.new_session();
  const auto start = std::chrono::steady_clock::now();
  for (size_t at = 0; at < document.size(); at += chunk) {
    model.ingest(state, document.subspan(at, std::min(chunk, document.size() - at)));
    if (on_progress) {
      on_progress(state.tokens(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  run.ingest_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.tokens_read = state.tokens();
  run.state_bytes = state.step_bytes();  // memory and a window: what a step holds

  GenerationRequest request;
  request.prompt = prompt;
  request.max_tokens = max_tokens;
  request.stop = stop;  // sampling: temperature 0, greedy
  request.stop_ids = stop_ids;
  run.text = generate(model, tokenizer, state, request, [](std::string_view) { return true; }).text;
  return run;
}

}  // namespace infini::tool
