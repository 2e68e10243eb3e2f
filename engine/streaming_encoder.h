// Encodes text that arrives in chunks cut anywhere, even inside a UTF-8
// character or a word, so that the concatenated output equals
// tokenizer.encode(all text) (SpecialTokens::kAsText: user text never forges a
// special token). Text is encoded up to the last safe cut point the tokenizer
// names (SentencePiece: before a whitespace run; Hugging Face BPE: after the last
// pre-token that more text cannot change); the rest stays pending until more
// arrives or finish() is called. The one exception is a run of more than
// kMaxPendingBytes without a safe cut, cut where its ids may differ. For
// SentencePiece unigram models, ties between segmentations of equal score may
// also break differently after a cut (same text, same score, other ids; found by
// tests/fuzz/tokenizer_stream_fuzz.cc); BPE models give identical ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer.h"

namespace infini {

class StreamingEncoder {
 public:
  using PendingStart = ::infini::PendingStart;

  explicit StreamingEncoder(std::shared_ptr<const Tokenizer> tokenizer);

  // Appends user text and returns the ids that are now final.
  std::vector<int32_t> push(std::string_view chunk);
  // Appends template text (a chat template's output): its special-token strings
  // (every added token, as SpecialTokens::kParse) become their ids. At each one the
  // pending text is encoded first (Hugging Face splits text at added tokens, so no
  // piece spans one); text between them joins the pending text exactly as push()
  // would. For SentencePiece this is push().
  std::vector<int32_t> push_template(std::string_view text);
  // Encodes whatever is pending and resets the encoder.
  std::vector<int32_t> finish();

  // Text received but not yet turned into ids (part of a session's state).
  const std::string& pending_text() const { return pending_; }
  PendingStart pending_start() const { return start_; }
  void restore_pending(std::string pending, PendingStart start);
  // Older form: at_start picks kDocumentStart, otherwise kWhitespace (wrong only after
  // a forced cut, which needs more than 64 KiB of text without whitespace).
  void restore_pending(std::string pending, bool at_start);
  bool at_start() const;

  // Pending text beyond this without a safe cut point is cut where its ids may
  // then differ from whole-text encoding.
  static constexpr size_t kMaxPendingBytes = 64 * 1024;

 private:
  void push_slice(std::string_view slice, std::vector<int32_t>& out);
  void flush(std::vector<int32_t>& out);

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::string pending_;
  PendingStart start_ = PendingStart::kDocumentStart;
};

}  // namespace infini
