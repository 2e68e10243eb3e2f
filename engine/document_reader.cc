#include "engine/document_reader.h"

#include <utility>

#include "engine/error.h"

namespace infini {
namespace {

EngineError flush_inside_a_character() {
  return EngineError(ErrorCode::kInvalidArgument,
                     "flush requested but the text ends inside a UTF-8 character");
}

}  // namespace

DocumentReader::DocumentReader(std::shared_ptr<const Tokenizer> tokenizer, SessionState state)
    : tokenizer_(tokenizer), state_(std::move(state)), encoder_(std::move(tokenizer)) {}

DocumentReader::Read DocumentReader::start(const Model& model,
                                           const std::vector<PromptPiece>& document_prefix) {
  return fold(model, push_pieces(encoder_, document_prefix));
}

DocumentReader::Read DocumentReader::read_text(const Model& model, std::string_view text,
                                               bool flush) {
  const Utf8Validator::Result utf8 = utf8_.check(text);
  if (utf8.invalid_at) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "invalid UTF-8 at byte offset " + std::to_string(*utf8.invalid_at) +
                          " of the session's text (byte " +
                          std::to_string(*utf8.invalid_at - utf8_.offset()) +
                          " of this chunk); the chunk was not read");
  }
  if (flush && utf8.needed != 0) {
    throw flush_inside_a_character();
  }
  // A working copy: if the forward pass fails the encoder is left as it was.
  StreamingEncoder encoder = encoder_;
  std::vector<int32_t> ids = encoder.push(text);
  if (flush) {
    const auto rest = encoder.finish();
    ids.insert(ids.end(), rest.begin(), rest.end());
  }
  Read read = fold(model, ids);
  encoder_ = std::move(encoder);
  utf8_.commit(utf8);
  return read;
}

DocumentReader::Read DocumentReader::read_ids(const Model& model, std::span<const int32_t> ids) {
  if (!utf8_.complete()) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "token_ids after text that ends inside a UTF-8 character");
  }
  StreamingEncoder encoder = encoder_;
  std::vector<int32_t> all = encoder.finish();
  all.insert(all.end(), ids.begin(), ids.end());
  Read read = fold(model, all);
  encoder_ = std::move(encoder);
  return read;
}

DocumentReader::Read DocumentReader::flush(const Model& model) {
  if (!utf8_.complete()) {
    throw flush_inside_a_character();
  }
  return read_ids(model, {});
}

DocumentReader::Read DocumentReader::fold(const Model& model, std::span<const int32_t> ids) {
  std::vector<int32_t> all = pending_ids_;
  all.insert(all.end(), ids.begin(), ids.end());
  const size_t segment = static_cast<size_t>(model.config().segment_size);
  const size_t whole = all.size() / segment * segment;
  Read read;
  model.ingest(state_, std::span<const int32_t>(all).first(whole), &read.stats);
  pending_ids_.assign(all.begin() + static_cast<std::ptrdiff_t>(whole), all.end());
  read.tokens = static_cast<int64_t>(ids.size());
  return read;
}

DocumentReader::Question DocumentReader::question(const Model& model, const PromptTemplate& prompt,
                                                  const std::vector<PromptPiece>& pieces) const {
  Question question{state_.fork(), {}};
  PromptTemplate::Ids ids = prompt.encode_after_document(*tokenizer_, encoder_, pieces);
  std::vector<int32_t> tail = pending_ids_;
  tail.insert(tail.end(), ids.document_rest.begin(), ids.document_rest.end());
  model.ingest(question.state, tail);
  question.prompt_ids = std::move(ids.prompt);
  return question;
}

void DocumentReader::restore_pending(std::vector<int32_t> pending_ids, std::string pending_text,
                                     StreamingEncoder::PendingStart pending_start,
                                     Utf8Validator::Result utf8) {
  pending_ids_ = std::move(pending_ids);
  encoder_.restore_pending(std::move(pending_text), pending_start);
  utf8_.restore(utf8);
}

DocumentReader DocumentReader::fork() const {
  DocumentReader copy(tokenizer_, state_.fork());
  copy.pending_ids_ = pending_ids_;
  copy.encoder_ = encoder_;
  copy.utf8_ = utf8_;
  return copy;
}

}  // namespace infini
