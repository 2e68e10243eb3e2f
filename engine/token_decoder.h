// Hugging Face decoders (tokenizer.json "decoder"): they turn the tokens' strings
// back into text. Supported: ByteLevel, ByteFallback, Fuse, Replace (a string),
// Strip, Metaspace, and Sequence of them. Each step maps the list of token
// strings to a new list, as the library's decode_chain does; the result is
// joined and made valid UTF-8 (U+FFFD for bytes that do not form characters).
#pragma once

#include <string>
#include <vector>

namespace infini {

struct DecoderStep {
  enum class Kind { kByteLevel, kByteFallback, kFuse, kReplace, kStrip, kMetaspace };
  Kind kind = Kind::kFuse;
  std::string
      pattern;  // kReplace: the string replaced; kStrip: the character; kMetaspace: the replacement
  std::string content;  // kReplace: what replaces it
  size_t start = 0;     // kStrip: characters taken from the start
  size_t stop = 0;      // kStrip: characters taken from the end
  bool prepend = true;  // kMetaspace: the first token had a space prepended
};

// Applies the steps to the tokens; returns the raw bytes (not yet valid UTF-8).
std::string decode_tokens(const std::vector<DecoderStep>& steps, std::vector<std::string> tokens);

}  // namespace infini
