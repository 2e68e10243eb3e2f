// The Hugging Face tokenizer.json implementation of Tokenizer: added tokens
// matched first, then per segment between them the normalizer, the
// pre-tokenizer and the BPE model; decoding through the file's decoder.
// Built by load_tokenizer_json (engine/tokenizer_json.h).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/added_tokens.h"
#include "engine/bpe_model.h"
#include "engine/normalizer.h"
#include "engine/pre_tokenizer.h"
#include "engine/token_decoder.h"
#include "engine/tokenizer.h"

namespace infini {

class BpeTokenizer final : public Tokenizer {
 public:
  struct Parts {
    std::unique_ptr<Normalizer> normalizer;       // null: none
    std::unique_ptr<PreTokenizer> pre_tokenizer;  // null: the whole segment is one pre-token
    std::unique_ptr<BpeModel> model;
    AddedTokens added;
    std::vector<DecoderStep> decoder;
    std::vector<std::string> pieces;  // id -> token as written in the file ("" for gaps)
    int32_t bos_id = -1;
    int32_t eos_id = -1;
  };
  explicit BpeTokenizer(Parts parts);
  // From tokenizer_config.json, read once the tokens are known (before sharing).
  void set_bos_eos(int32_t bos, int32_t eos) {
    parts_.bos_id = bos;
    parts_.eos_id = eos;
  }

  std::string piece_text(int32_t id) const override;
  int32_t piece_to_id(std::string_view piece) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(parts_.pieces.size()); }
  int32_t bos_id() const override { return parts_.bos_id; }
  int32_t eos_id() const override { return parts_.eos_id; }
  bool is_special(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view token) const override;
  std::string_view kind() const override { return "bpe"; }

 protected:
  std::vector<int32_t> encode_text(std::string_view text, SpecialTokens specials) const override;
  std::string decode_ids(const std::vector<int32_t>& ids, bool skip_special) const override;
  size_t stream_cut(std::string_view pending, size_t from, PendingStart start) const override;
  std::vector<int32_t> stream_encode(std::string_view text, PendingStart start) const override;
  size_t stream_force_cut(std::string_view pending, PendingStart start,
                          std::vector<int32_t>& out) const override;
  std::vector<TemplatePart> split_at_added_tokens(std::string_view text) const override;

 private:
  // Text between added tokens (valid UTF-8).
  void encode_segment(std::string_view segment, std::vector<int32_t>& out) const;
  // The last cut in a segment that may still grow; 0 when there is none.
  size_t segment_cut(std::string_view segment) const;
  void check_id(int32_t id) const;

  Parts parts_;
  std::unordered_map<std::string, int32_t> piece_ids_;
};

}  // namespace infini
