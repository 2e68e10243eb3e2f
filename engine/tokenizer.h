// SentencePiece tokenizer, plus a streaming encoder whose output does not
// depend on how the text was cut into chunks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace infini {

class Tokenizer {
 public:
  // Loads a SentencePiece model file; throws EngineError(kNotFound/kCorruptData).
  static std::shared_ptr<const Tokenizer> load(const std::string& model_path);
  ~Tokenizer();

  // Whole-text encoding (with SentencePiece's dummy prefix, as the model saw it).
  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  // The text of one piece as it appears in decoded output (U+2581 -> ' ').
  std::string piece_text(int32_t id) const;
  int32_t piece_to_id(std::string_view piece) const;  // -1 when unknown
  int64_t vocab_size() const;
  int32_t bos_id() const;  // -1 when the model has none
  int32_t eos_id() const;  // -1 when the model has none

  const sentencepiece::SentencePieceProcessor& processor() const { return *processor_; }

 private:
  friend class StreamingEncoder;

  // Where StreamingEncoder may cut text and how it encodes what follows a cut;
  // worked out from the model at load time (see tokenizer.cc).
  struct CutRules {
    bool whitespace_cuts = false;        // false: only forced cuts of over-long pending text
    bool dummy_prefix_after_cut = true;  // text after a whitespace cut gets the dummy prefix
    bool ascii_before_cut = false;       // the byte before a cut must be ASCII
    std::array<bool, 256> whitespace{};  // bytes the normalizer turns into a space
  };

  Tokenizer() = default;
  std::vector<int32_t> encode_with(const sentencepiece::SentencePieceProcessor& processor,
                                   std::string_view text) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  // The same model with add_dummy_prefix off: encodes text that continues a word or,
  // for models that keep whitespace runs, text after a whitespace cut.
  std::unique_ptr<sentencepiece::SentencePieceProcessor> continuation_processor_;
  CutRules cut_rules_;
};

// Encodes text that arrives in chunks cut anywhere, even inside a UTF-8
// character or a word, so that the concatenated output equals
// tokenizer.encode(all text). Text is encoded up to the last safe cut point
// (just before a whitespace run, see tokenizer.cc); the rest stays pending until
// more arrives or finish() is called. The one exception is a run of more than
// kMaxPendingBytes without whitespace, cut where its ids may differ. For
// unigram models, ties between segmentations of equal score may also break
// differently after a cut (same text, same score, other ids; found by
// tests/fuzz/tokenizer_stream_fuzz.cc); BPE models, the demo model's kind,
// give identical ids.
class StreamingEncoder {
 public:
  // Where the pending text starts in the document. A snapshot must keep it with the
  // pending text: each start is encoded differently.
  enum class PendingStart : uint8_t {
    kDocumentStart,  // nothing emitted yet
    kWhitespace,     // after a cut before a whitespace run
    kInsideWord,     // after a forced cut of over-long text without whitespace
  };

  explicit StreamingEncoder(std::shared_ptr<const Tokenizer> tokenizer);

  // Appends `chunk` and returns the ids that are now final.
  std::vector<int32_t> push(std::string_view chunk);
  // Encodes whatever is pending and resets the encoder.
  std::vector<int32_t> finish();

  // Text received but not yet turned into ids (part of a session's state).
  const std::string& pending_text() const { return pending_; }
  PendingStart pending_start() const { return start_; }
  void restore_pending(std::string pending, PendingStart start);
  // Older form: at_start picks kDocumentStart, otherwise kWhitespace (wrong only after
  // a forced cut, which needs more than 64 KiB of text without whitespace).
  void restore_pending(std::string pending, bool at_start);
  bool at_start() const { return start_ == PendingStart::kDocumentStart; }

  // Pending text beyond this without a whitespace cut point is cut at a piece
  // boundary, where the ids may then differ from whole-text encoding.
  static constexpr size_t kMaxPendingBytes = 64 * 1024;

 private:
  void push_slice(std::string_view slice, std::vector<int32_t>& out);
  size_t last_cut(size_t from) const;
  const sentencepiece::SentencePieceProcessor& processor_for_pending() const;
  std::vector<int32_t> encode_pending_prefix(size_t length) const;
  void force_cut(std::vector<int32_t>& out);

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::string pending_;
  PendingStart start_ = PendingStart::kDocumentStart;
};

}  // namespace infini
