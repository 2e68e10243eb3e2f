// Hugging Face added tokens (tokenizer.json "added_tokens"): strings matched in
// the raw text before anything else, leftmost-longest as the library's
// Aho-Corasick matcher does; the text between matches is encoded on its own.
// Special ones (special = true) are matched only when SpecialTokens::kParse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer.h"

namespace infini {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;  // the match takes the whitespace before it
  bool rstrip = false;  // the match takes the whitespace after it
};

class AddedTokens {
 public:
  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  struct Match {
    size_t begin = 0;  // with the whitespace lstrip/rstrip take
    size_t end = 0;
    int32_t id = -1;
  };
  // All matches in `text`, left to right.
  std::vector<Match> find_all(std::string_view text, SpecialTokens mode) const;
  // The start of the earliest suffix of `text` that more text could turn into (or
  // extend to a longer) match; text.size() when there is none.
  size_t growing_start(std::string_view text, SpecialTokens mode) const;

  const AddedToken* by_id(int32_t id) const;
  std::optional<int32_t> id_of(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  // A byte trie over the contents; `token` is an index into tokens_ or -1.
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t token = -1;
  };
  struct Trie {
    std::vector<Node> nodes{Node{}};
    void insert(std::string_view content, int32_t token);
    int32_t child(int32_t node, uint8_t byte) const;
  };
  const Trie& trie(SpecialTokens mode) const {
    return mode == SpecialTokens::kParse ? all_ : non_special_;
  }
  // Index of the longest token at text[pos], -1 for none.
  int32_t longest_at(const Trie& trie, std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  Trie all_, non_special_;
  std::unordered_map<int32_t, size_t> index_of_id_;
  std::unordered_map<std::string, int32_t> id_of_content_;
  size_t longest_ = 0;
};

}  // namespace infini
