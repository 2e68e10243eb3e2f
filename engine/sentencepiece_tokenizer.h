// The SentencePiece implementation of Tokenizer (tokenizer.model), with the cut
// rules its StreamingEncoder hooks follow (see sentencepiece_tokenizer.cc).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "engine/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace infini {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads a serialized ModelProto read from `path` (named in errors).
  static std::shared_ptr<const SentencePieceTokenizer> from_serialized(
      const std::string& serialized, const std::string& path);
  ~SentencePieceTokenizer() override;

  std::string piece_text(int32_t id) const override;
  int32_t piece_to_id(std::string_view piece) const override;
  int64_t vocab_size() const override;
  int32_t bos_id() const override;
  int32_t eos_id() const override;
  bool is_special(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view token) const override;
  std::string_view kind() const override { return "sentencepiece"; }

  const sentencepiece::SentencePieceProcessor& processor() const { return *processor_; }

 protected:
  std::vector<int32_t> encode_text(std::string_view text, SpecialTokens specials) const override;
  std::string decode_ids(const std::vector<int32_t>& ids, bool skip_special) const override;
  size_t stream_cut(std::string_view pending, size_t from, PendingStart start) const override;
  std::vector<int32_t> stream_encode(std::string_view text, PendingStart start) const override;
  size_t stream_force_cut(std::string_view pending, PendingStart start,
                          std::vector<int32_t>& out) const override;

 private:
  // Where StreamingEncoder may cut text and how it encodes what follows a cut;
  // worked out from the model at load time (see sentencepiece_tokenizer.cc).
  struct CutRules {
    bool whitespace_cuts = false;        // false: only forced cuts of over-long pending text
    bool dummy_prefix_after_cut = true;  // text after a whitespace cut gets the dummy prefix
    bool ascii_before_cut = false;       // the byte before a cut must be ASCII
    std::array<bool, 256> whitespace{};  // bytes the normalizer turns into a space
  };

  SentencePieceTokenizer() = default;
  std::vector<int32_t> encode_with(const sentencepiece::SentencePieceProcessor& processor,
                                   std::string_view text) const;
  const sentencepiece::SentencePieceProcessor& processor_for(std::string_view pending,
                                                             PendingStart start) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  // The same model with add_dummy_prefix off: encodes text that continues a word or,
  // for models that keep whitespace runs, text after a whitespace cut.
  std::unique_ptr<sentencepiece::SentencePieceProcessor> continuation_processor_;
  CutRules cut_rules_;
};

}  // namespace infini
