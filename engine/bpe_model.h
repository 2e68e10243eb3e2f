// The BPE model of a Hugging Face tokenizer.json: a vocabulary and ranked merges,
// applied to one pre-token at a time. Merges go lowest rank first, the leftmost
// of equal ranks first (Hugging Face's priority queue). Byte-level models
// (GPT-2, Llama 3, Qwen) start from one symbol per byte; others from one per
// character, with byte fallback (<0xAB> pieces) or the unknown token for
// characters outside the vocabulary.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace infini {

class BpeModel {
 public:
  struct Options {
    bool byte_level = false;     // vocabulary spelled in GPT-2's byte alphabet
    bool ignore_merges = false;  // a pre-token in the vocabulary is one token
    bool byte_fallback = false;  // unknown characters -> <0xAB> pieces
    bool fuse_unk = false;       // consecutive unknown characters -> one unk
    int32_t unk_id = -1;
  };
  struct Merge {
    int32_t left = 0;
    int32_t right = 0;
    int32_t merged = 0;
  };

  // `vocab` maps each token as it is to be matched (raw bytes for a byte-level
  // model) to its id; `merges` are in rank order.
  BpeModel(std::unordered_map<std::string, int32_t> vocab, const std::vector<Merge>& merges,
           Options options);

  // Appends the ids of one pre-token (raw bytes, valid UTF-8).
  void encode(std::string_view word, std::vector<int32_t>& out) const;

 private:
  struct Rank {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
  }
  void initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const;
  void merge(std::vector<int32_t>& symbols) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, Rank> ranks_;
  std::array<int32_t, 256> byte_ids_;  // byte-level: the symbol of each byte; else <0xAB>
  Options options_;

  // Pre-tokens repeat (" the"): their ids are cached, in shards so that threads
  // encoding different documents rarely wait for one another.
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> ids;
  };
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheEntriesPerShard = 8192;
  static constexpr size_t kMaxCachedWordBytes = 64;
  mutable std::unique_ptr<CacheShard[]> cache_;
};

}  // namespace infini
