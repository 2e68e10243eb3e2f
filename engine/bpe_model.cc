#include "engine/bpe_model.h"

#include <cstdio>
#include <functional>
#include <queue>

#include "engine/utf8_text.h"

namespace infini {

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab, const std::vector<Merge>& merges,
                   Options options)
    : vocab_(std::move(vocab)), options_(options), cache_(new CacheShard[kCacheShards]) {
  ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    // A repeated pair keeps its first (best) rank, as Hugging Face's map does.
    ranks_.emplace(pair_key(merges[i].left, merges[i].right),
                   Rank{static_cast<int32_t>(i), merges[i].merged});
  }
  for (int b = 0; b < 256; ++b) {
    std::string key;
    if (options_.byte_level) {
      key.push_back(static_cast<char>(b));
    } else {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      key = name;
    }
    const auto it = vocab_.find(key);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const {
  if (options_.byte_level) {
    // Every byte has a symbol in a byte-level vocabulary; one without is dropped,
    // as Hugging Face drops characters it has no id for when there is no unk.
    for (char c : word) {
      const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
      if (id >= 0) {
        symbols.push_back(id);
      } else if (options_.unk_id >= 0) {
        symbols.push_back(options_.unk_id);
      }
    }
    return;
  }
  bool last_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    size_t n = utf8::char_length(word, pos);
    if (n == 0) n = 1;
    const auto it = vocab_.find(std::string(word.substr(pos, n)));
    if (it != vocab_.end()) {
      symbols.push_back(it->second);
      last_unk = false;
    } else {
      bool all_bytes = options_.byte_fallback;
      for (size_t i = 0; all_bytes && i < n; ++i) {
        all_bytes = byte_ids_[static_cast<uint8_t>(word[pos + i])] >= 0;
      }
      if (all_bytes) {
        for (size_t i = 0; i < n; ++i)
          symbols.push_back(byte_ids_[static_cast<uint8_t>(word[pos + i])]);
        last_unk = false;
      } else if (options_.unk_id >= 0) {
        if (!(options_.fuse_unk && last_unk)) symbols.push_back(options_.unk_id);
        last_unk = true;
      }
    }
    pos += n;
  }
}

void BpeModel::merge(std::vector<int32_t>& symbols) const {
  const size_t n = symbols.size();
  if (n < 2) return;
  // A doubly linked list over the symbols; merged-away symbols get id -1.
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left;  // the ids it was found for: stale once either changed
    int32_t right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    const int32_t right = symbols[next[pos]];
    const auto it = ranks_.find(pair_key(symbols[pos], right));
    if (it != ranks_.end()) queue.push({it->second.rank, pos, symbols[pos], right});
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int32_t right_pos = next[c.pos];
    if (symbols[c.pos] != c.left || right_pos < 0 || symbols[right_pos] != c.right) continue;
    symbols[c.pos] = ranks_.find(pair_key(c.left, c.right))->second.merged;
    symbols[right_pos] = -1;
    next[c.pos] = next[right_pos];
    if (next[c.pos] >= 0) prev[next[c.pos]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (symbols[i] >= 0) symbols[kept++] = symbols[i];
  }
  symbols.resize(kept);
}

void BpeModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto it = vocab_.find(std::string(word)); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  CacheShard* shard = nullptr;
  std::string key;
  if (cacheable) {
    key.assign(word);
    shard = &cache_[std::hash<std::string>{}(key) % kCacheShards];
    std::lock_guard<std::mutex> lock(shard->mutex);
    if (const auto it = shard->ids.find(key); it != shard->ids.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  initial_symbols(word, symbols);
  merge(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    if (shard->ids.size() >= kCacheEntriesPerShard) shard->ids.clear();
    shard->ids.emplace(std::move(key), std::move(symbols));
  }
}

}  // namespace infini
