// How `infini eval` puts a document to the model and to its two baselines:
// the ids the server would produce, and which of them each run reads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"

namespace infini::tool {

// encode(document_prefix + document) exactly as a server session produces it:
// the prefix pushed at session start, then the text in 64 KiB chunks through
// the streaming encoder, then finish() (which Ask does before the question).
std::vector<int32_t> encode_document(std::shared_ptr<const Tokenizer> tokenizer,
                                     const std::string& document_prefix,
                                     const std::string& document);
// The same with the prompt template's prefix pieces (a chat template's
// special tokens become their ids, PromptTemplate::document_prefix_pieces).
std::vector<int32_t> encode_document(std::shared_ptr<const Tokenizer> tokenizer,
                                     const std::vector<PromptPiece>& document_prefix,
                                     const std::string& document);
// A prompt read after a whole document: each piece encoded on its own,
// template text with its special tokens parsed, user text without.
std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, const std::vector<PromptPiece>& pieces);

// The load options of the "memory off" baseline: the same weights with the
// gate forced to local attention only. The engine takes a gate strictly
// inside (0, 1); the smallest positive float has logit -103, whose sigmoid
// underflows to exactly 0 in fp32, so A = 0 * A_mem + 1 * A_dot = A_dot.
LoadOptions memory_off_options(LoadOptions options);

// With the gate at 0 no output depends on anything before its own segment,
// and RoPE uses in-segment offsets, so skipping whole segments of the
// document is exact: the first id the memory-off baseline needs to read.
size_t memory_off_start(size_t document_tokens, int64_t segment_size);
// The "last segment" baseline reads only the document's last S ids.
size_t last_segment_start(size_t document_tokens, int64_t segment_size);

struct AnswerRun {
  std::string text;         // generated, cut at the stop string
  int64_t tokens_read = 0;  // document ids read
  double ingest_seconds = 0.0;
  int64_t state_bytes = 0;
};

// A new session reads `document` (in chunks; `on_progress(tokens read,
// seconds)` after each), then generates greedily from `prompt`.
AnswerRun answer_after(const Model& model, const Tokenizer& tokenizer,
                       std::span<const int32_t> document, const std::vector<int32_t>& prompt,
                       int32_t max_tokens, const std::vector<std::string>& stop,
                       const std::function<void(int64_t, double)>& on_progress = {},
                       const std::vector<int32_t>& stop_ids = {});

}  // namespace infini::tool
