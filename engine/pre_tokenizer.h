// Hugging Face pre-tokenizers (tokenizer.json "pre_tokenizer"): they cut
// normalized text into pre-tokens, which BPE then encodes one by one. Supported:
// Split (a regex, Isolated or Removed), ByteLevel (its GPT-2 regex when use_regex;
// the byte mapping itself is the BPE model's), Digits, and Sequence of them.
//
// For streaming, each also splits text that may still grow (split_growing): the
// pre-tokens it reports there are final whatever text follows.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/regex.h"

namespace infini {

struct Span {
  size_t begin = 0;
  size_t end = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer();
  // Appends the pre-tokens of text[piece] (valid UTF-8) to `out`.
  virtual void split(std::string_view text, Span piece, std::vector<Span>& out) const = 0;
  // The same for a last piece whose text may continue past piece.end: appends the
  // pre-tokens that are final and returns where the rest starts. *rest_is_token is
  // set when the rest is the start of a single pre-token (later stages may then
  // split it further, as growing text); otherwise nothing is known about it.
  virtual size_t split_growing(std::string_view text, Span piece, std::vector<Span>& out,
                               bool* rest_is_token) const = 0;
};

// Isolated: each match is a pre-token of its own; Removed: matches are dropped.
enum class SplitBehavior { kIsolated, kRemoved };

// `context` names the file and key, for errors in the pattern.
std::unique_ptr<PreTokenizer> make_regex_split(const std::string& pattern, SplitBehavior behavior,
                                               const std::string& context);
// ByteLevel with use_regex: GPT-2's pattern.
std::unique_ptr<PreTokenizer> make_gpt2_split(const std::string& context);
// Digits: each digit alone (individual) or runs of digits, the rest between them.
std::unique_ptr<PreTokenizer> make_digits_split(bool individual_digits);
// A pre-tokenizer that keeps its piece whole (ByteLevel without use_regex).
std::unique_ptr<PreTokenizer> make_identity_split();
std::unique_ptr<PreTokenizer> make_pre_tokenizer_sequence(
    std::vector<std::unique_ptr<PreTokenizer>> stages);

// GPT-2's pre-tokenization pattern (Hugging Face ByteLevel, use_regex = true).
extern const char* const kGpt2Pattern;

}  // namespace infini
