#include "engine/streaming_encoder.h"

#include <algorithm>
#include <utility>

#include "engine/error.h"

namespace infini {

StreamingEncoder::StreamingEncoder(std::shared_ptr<const Tokenizer> tokenizer)
    : tokenizer_(std::move(tokenizer)) {
  if (!tokenizer_) throw EngineError(ErrorCode::kInvalidArgument, "StreamingEncoder: no tokenizer");
}

bool StreamingEncoder::at_start() const { return start_ == PendingStart::kDocumentStart; }

std::vector<int32_t> StreamingEncoder::push(std::string_view chunk) {
  std::vector<int32_t> out;
  // A large chunk goes in slices, which changes no id (the output does not depend on
  // chunking) but keeps each encode short: SentencePiece gets slower per byte on
  // very long inputs (10 MB at once is about 6x slower than in 64 KiB pieces).
  while (!chunk.empty()) {
    const size_t slice = std::min(chunk.size(), kMaxPendingBytes);
    push_slice(chunk.substr(0, slice), out);
    chunk.remove_prefix(slice);
  }
  return out;
}

std::vector<int32_t> StreamingEncoder::push_template(std::string_view text) {
  std::vector<int32_t> out;
  for (const Tokenizer::TemplatePart& part : tokenizer_->split_at_added_tokens(text)) {
    if (part.id < 0) {
      const auto ids = push(part.text);
      out.insert(out.end(), ids.begin(), ids.end());
      continue;
    }
    // Nothing merges across an added token: the text before it is complete, and the
    // text after it starts a new segment, as at the start of a document.
    flush(out);
    out.push_back(part.id);
  }
  return out;
}

void StreamingEncoder::push_slice(std::string_view slice, std::vector<int32_t>& out) {
  const size_t old_size = pending_.size();
  pending_.append(slice);
  // Only the new bytes can hold a new cut point; all text before the last one is final.
  if (const size_t cut = tokenizer_->stream_cut(pending_, old_size, start_); cut > 0) {
    const auto ids = tokenizer_->stream_encode(std::string_view(pending_).substr(0, cut), start_);
    out.insert(out.end(), ids.begin(), ids.end());
    pending_.erase(0, cut);
    start_ = PendingStart::kWhitespace;
  }
  if (pending_.size() > kMaxPendingBytes) {
    const size_t cut = tokenizer_->stream_force_cut(pending_, start_, out);
    pending_.erase(0, cut);
    start_ = PendingStart::kInsideWord;
  }
}

void StreamingEncoder::flush(std::vector<int32_t>& out) {
  if (!pending_.empty()) {
    const auto ids = tokenizer_->stream_encode(pending_, start_);
    out.insert(out.end(), ids.begin(), ids.end());
  }
  pending_.clear();
  start_ = PendingStart::kDocumentStart;
}

std::vector<int32_t> StreamingEncoder::finish() {
  std::vector<int32_t> out;
  flush(out);
  return out;
}

void StreamingEncoder::restore_pending(std::string pending, PendingStart start) {
  pending_ = std::move(pending);
  start_ = start;
}

void StreamingEncoder::restore_pending(std::string pending, bool at_start) {
  restore_pending(std::move(pending),
                  at_start ? PendingStart::kDocumentStart : PendingStart::kWhitespace);
}

}  // namespace infini
