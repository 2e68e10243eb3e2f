// A document read into a session's state in chunks cut anywhere: the one
// path from text to memory that the server's sessions (Ingest, Ask,
// Summarize) and `infini run` share.
//
// - UTF-8 is checked across chunk boundaries (Utf8Validator), text is encoded
//   by a StreamingEncoder (any chunking gives the ids of the whole text), and
//   token ids continue the stream after whatever text is pending.
// - Only whole segments are folded into the state; the tokens of the current
//   partial segment wait in pending_ids() and are read on the fork a question
//   gets. So the memory is computed from full segments only, always in the
//   same shapes, and is bit-for-bit the same however the document was cut.
// - Every read is all or nothing: a chunk that is rejected (invalid UTF-8,
//   token ids or a flush after text that ends inside a character) throws
//   EngineError(kInvalidArgument) and leaves the reader exactly as it was.
//
// Not thread-safe: one caller at a time (the server runs every read of a
// session on that session's queue).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/session_state.h"
#include "engine/streaming_encoder.h"
#include "engine/tokenizer.h"
#include "engine/utf8_validator.h"

namespace infini {

class DocumentReader {
 public:
  DocumentReader(std::shared_ptr<const Tokenizer> tokenizer, SessionState state);
  DocumentReader(DocumentReader&&) = default;
  DocumentReader& operator=(DocumentReader&&) = default;
  // A state is copied only on purpose (fork(): a deep copy).
  DocumentReader(const DocumentReader&) = delete;
  DocumentReader& operator=(const DocumentReader&) = delete;

  // What one read added: tokens that are now final (folded or pending) and
  // the forward pass's figures.
  struct Read {
    int64_t tokens = 0;
    ForwardStats stats;
  };

  // The prompt template's document prefix, read before any text.
  Read start(const Model& model, const std::vector<PromptPiece>& document_prefix);
  // UTF-8 text, cut anywhere; `flush` then encodes whatever text is pending
  // (the end of the document, or before ids that must not merge with it).
  Read read_text(const Model& model, std::string_view text, bool flush);
  // Token ids, after the pending text is encoded.
  Read read_ids(const Model& model, std::span<const int32_t> ids);
  // Encodes the pending text.
  Read flush(const Model& model);

  // The state a question runs on: a fork of the state that has read the
  // pending ids and the rest of the document's text (encoded on a copy of the
  // encoder, so the reader is not changed), and the prompt's ids, which
  // generation reads first.
  struct Question {
    SessionState state;
    std::vector<int32_t> prompt_ids;
  };
  Question question(const Model& model, const PromptTemplate& prompt,
                    const std::vector<PromptPiece>& pieces) const;

  // Tokens read, folded or pending.
  int64_t tokens() const { return state_.tokens() + static_cast<int64_t>(pending_ids_.size()); }

  // The parts a session snapshot keeps, and their restore.
  SessionState& state() { return state_; }
  const SessionState& state() const { return state_; }
  const std::vector<int32_t>& pending_ids() const { return pending_ids_; }
  const StreamingEncoder& encoder() const { return encoder_; }
  const Utf8Validator& utf8() const { return utf8_; }
  void restore_pending(std::vector<int32_t> pending_ids, std::string pending_text,
                       StreamingEncoder::PendingStart pending_start, Utf8Validator::Result utf8);

  // A reader of the same document on a copy of the state (Fork).
  DocumentReader fork() const;

 private:
  // Whole segments of pending_ids_ + ids into the state, the rest pending.
  Read fold(const Model& model, std::span<const int32_t> ids);

  std::shared_ptr<const Tokenizer> tokenizer_;
  SessionState state_;
  std::vector<int32_t> pending_ids_;
  StreamingEncoder encoder_;
  Utf8Validator utf8_;
};

}  // namespace infini
