// The tokenizer front: one interface over two implementations,
//   - SentencePieceTokenizer (engine/sentencepiece_tokenizer.*): tokenizer.model;
//   - BpeTokenizer (engine/bpe_tokenizer.*): Hugging Face tokenizer.json with a BPE
//     model (GPT-2 / Llama 3 / Qwen / SmolLM2 style byte-level BPE, or byte fallback),
//     plus tokenizer_config.json for bos/eos.
// The streaming encoder (engine/streaming_encoder.h, included below) works with both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace infini {

// How the text of special tokens (added tokens with special=true, e.g. "<|im_start|>")
// is read by encode:
//   kParse:  as the special token's id: Hugging Face's encode(text,
//            add_special_tokens=False). For `infini tokenize` and template text.
//   kAsText: as ordinary text, encoded like any other characters; only chat
//            templates insert special tokens, as ids. For text from users (documents,
//            questions): llama.cpp's parse_special = false. Added tokens that are not
//            special (Qwen's "<think>") are matched in both modes, as Hugging Face does.
// SentencePiece models have no special-token text: both modes are the same there
// (control pieces never match text, user-defined pieces always do).
enum class SpecialTokens { kAsText, kParse };

// Where text pending in a StreamingEncoder starts; a session snapshot keeps it with
// the pending text (server/sessions/session_snapshot.*: stored as a u8, values fixed).
enum class PendingStart : uint8_t {
  kDocumentStart,  // nothing emitted yet (Hugging Face: a segment starts here)
  kWhitespace,     // after a safe cut (SentencePiece: before a whitespace run)
  kInsideWord,     // after a forced cut of over-long text without a safe cut
};

class Tokenizer {
 public:
  // Loads tokenizer.json (Hugging Face; a tokenizer_config.json next to it supplies
  // bos/eos) or a SentencePiece tokenizer.model, told apart by content. Throws
  // EngineError (kNotFound, kCorruptData, kUnsupported) naming the file and key.
  static std::shared_ptr<const Tokenizer> load(const std::string& path);
  // A model directory's tokenizer: tokenizer.json when present, else tokenizer.model
  // (also when tokenizer.json uses a feature this build does not support: then
  // tokenizer.model, where there is one, is the same tokenizer).
  static std::shared_ptr<const Tokenizer> load_from_model_dir(const std::string& dir);
  virtual ~Tokenizer();

  // One-argument encode reads special-token strings as text (kAsText): safe for user
  // text. For SentencePiece this is its whole-text encoding (with the dummy prefix).
  std::vector<int32_t> encode(std::string_view text) const {
    return encode(text, SpecialTokens::kAsText);
  }
  std::vector<int32_t> encode(std::string_view text, SpecialTokens specials) const {
    return encode_text(text, specials);
  }
  // Text of the ids. Special tokens (SentencePiece control pieces, Hugging Face added
  // tokens with special=true) decode to nothing: Hugging Face's
  // decode(ids, skip_special_tokens=True); pass skip_special = false to get their
  // content (Hugging Face's default; SentencePiece control pieces stay empty).
  // Bytes that do not form UTF-8 become U+FFFD, one per maximal invalid subpart, as
  // both libraries do; an incomplete character at the end is one U+FFFD (the
  // generator holds that back until the next token completes it). Throws
  // kOutOfRange for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const {
    return decode_ids(ids, skip_special);
  }
  // The bytes one piece contributes to decoded output (SentencePiece: U+2581 -> ' ';
  // byte-level BPE: the raw bytes, possibly part of a UTF-8 character); "" for
  // special tokens.
  virtual std::string piece_text(int32_t id) const = 0;
  // The id of a piece as spelled in the vocabulary (SentencePiece "\u2581the",
  // byte-level "\u0120the"), or of an added token by content; -1 when unknown.
  virtual int32_t piece_to_id(std::string_view piece) const = 0;
  // One past the largest id (vocabulary and added tokens).
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the model has none
  virtual int32_t eos_id() const = 0;  // -1 when the model has none
  // True for special tokens (see decode).
  virtual bool is_special(int32_t id) const = 0;
  // An added token by its content ("<|im_end|>"); SentencePiece: any piece
  // ("<doc>"; the library does not tell user-defined pieces apart). nullopt when
  // there is none.
  virtual std::optional<int32_t> token_id(std::string_view token) const = 0;
  // "sentencepiece" or "bpe" (for logs and the tokenize command).
  virtual std::string_view kind() const = 0;

 protected:
  friend class StreamingEncoder;

  // Piece of template text: either text to encode or an added token's id.
  struct TemplatePart {
    std::string_view text;
    int32_t id = -1;  // >= 0: an added token
  };

  virtual std::vector<int32_t> encode_text(std::string_view text, SpecialTokens specials) const = 0;
  virtual std::string decode_ids(const std::vector<int32_t>& ids, bool skip_special) const = 0;

  // ---- Hooks of StreamingEncoder; user text throughout (SpecialTokens::kAsText) ----
  // The last cut at or after `from` (0 < cut <= pending.size()) such that the ids of
  // pending[0, cut) started at `start` followed by the ids of everything after the
  // cut started at kWhitespace equal the ids of the whole, whatever text follows.
  // 0 when there is none.
  virtual size_t stream_cut(std::string_view pending, size_t from, PendingStart start) const = 0;
  // Ids of text that starts at `start` (its end being a safe cut or the end of input).
  virtual std::vector<int32_t> stream_encode(std::string_view text, PendingStart start) const = 0;
  // Pending text beyond StreamingEncoder::kMaxPendingBytes without a safe cut:
  // appends the ids of a prefix to `out` and returns its length in bytes; what
  // follows is then encoded starting at kInsideWord. Ids near the cut may differ
  // from whole-text encoding.
  virtual size_t stream_force_cut(std::string_view pending, PendingStart start,
                                  std::vector<int32_t>& out) const = 0;
  // Template text cut at every added token (special or not, as kParse matches
  // them). Default: no added tokens, all text.
  virtual std::vector<TemplatePart> split_at_added_tokens(std::string_view text) const;

  Tokenizer() = default;
};

}  // namespace infini

#include "engine/streaming_encoder.h"  // IWYU pragma: export
