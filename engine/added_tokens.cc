#include "engine/added_tokens.h"

#include <algorithm>

namespace infini {
namespace {

// ASCII whitespace only (Hugging Face strips any Unicode whitespace).
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

void AddedTokens::Trie::insert(std::string_view content, int32_t token) {
  int32_t node = 0;
  for (char ch : content) {
    const auto byte = static_cast<uint8_t>(ch);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes.size());
      nodes.emplace_back();
      auto& edges = nodes[node].next;
      edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(byte, int32_t{0})),
                   {byte, next});
    }
    node = next;
  }
  if (nodes[node].token < 0) nodes[node].token = token;  // the first of duplicates wins
}

int32_t AddedTokens::Trie::child(int32_t node, uint8_t byte) const {
  const auto& edges = nodes[node].next;
  const auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(byte, int32_t{0}));
  return it != edges.end() && it->first == byte ? it->second : -1;
}

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    index_of_id_.emplace(t.id, i);
    id_of_content_.emplace(t.content, t.id);
    if (t.content.empty()) continue;
    all_.insert(t.content, static_cast<int32_t>(i));
    if (!t.special) non_special_.insert(t.content, static_cast<int32_t>(i));
    longest_ = std::max(longest_, t.content.size());
  }
}

int32_t AddedTokens::longest_at(const Trie& trie, std::string_view text, size_t pos) const {
  int32_t node = 0;
  int32_t best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    node = trie.child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    if (trie.nodes[node].token >= 0) best = trie.nodes[node].token;
  }
  return best;
}

std::vector<AddedTokens::Match> AddedTokens::find_all(std::string_view text,
                                                      SpecialTokens mode) const {
  std::vector<Match> matches;
  if (tokens_.empty()) return matches;
  const Trie& t = trie(mode);
  if (t.nodes[0].next.empty()) return matches;
  size_t previous_end = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (t.child(0, static_cast<uint8_t>(text[pos])) < 0) {
      ++pos;
      continue;
    }
    const int32_t index = longest_at(t, text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<size_t>(index)];
    Match m{pos, pos + token.content.size(), token.id};
    if (token.lstrip) {
      while (m.begin > previous_end && is_space(text[m.begin - 1])) --m.begin;
    }
    if (token.rstrip) {
      while (m.end < text.size() && is_space(text[m.end])) ++m.end;
    }
    matches.push_back(m);
    previous_end = pos = m.end;
  }
  return matches;
}

size_t AddedTokens::growing_start(std::string_view text, SpecialTokens mode) const {
  const Trie& t = trie(mode);
  if (t.nodes[0].next.empty()) return text.size();
  const size_t from = text.size() > longest_ ? text.size() - longest_ : 0;
  for (size_t pos = from; pos < text.size(); ++pos) {
    int32_t node = 0;
    size_t i = pos;
    for (; i < text.size() && node >= 0; ++i) node = t.child(node, static_cast<uint8_t>(text[i]));
    // The text ran out inside the trie: a (longer) token may still match here.
    if (node >= 0 && !t.nodes[node].next.empty()) return pos;
  }
  return text.size();
}

const AddedToken* AddedTokens::by_id(int32_t id) const {
  const auto it = index_of_id_.find(id);
  return it == index_of_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedTokens::id_of(std::string_view content) const {
  const auto it = id_of_content_.find(std::string(content));
  if (it == id_of_content_.end()) return std::nullopt;
  return it->second;
}

}  // namespace infini
