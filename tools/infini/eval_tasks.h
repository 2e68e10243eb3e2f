// The evaluation documents of `infini eval`: passkey, needle and summary
// tasks in filler text, generated exactly as docs/demo-tasks.md specifies
// (the contract with the training recipe, tools/train/tasks.py). Random
// draws come from a seeded generator, so a (seed, task, length, trial) gives
// the same document on every machine.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer.h"

namespace infini::tool {

enum class EvalTask { kPasskey, kNeedle, kSummary };

// "passkey" | "needle" | "summary"; throws std::invalid_argument otherwise.
EvalTask parse_eval_task(const std::string& name);
const char* eval_task_name(EvalTask task);

// "1k" = 1,024, "1m" = 1,048,576, or a plain positive number of tokens.
// Throws std::invalid_argument naming `flag`.
int64_t parse_token_length(const std::string& text, const std::string& flag);
// A comma-separated list of lengths ("1k,8k,1m").
std::vector<int64_t> parse_token_lengths(const std::string& list, const std::string& flag);
// "1k", "64k", "1m", or the plain number when it is not a multiple of 1,024.
std::string format_token_length(int64_t tokens);

// The document text's fixed parts, character for character as in the doc.
inline constexpr std::string_view kInstruction =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "them. I will quiz you about the important information there.";
inline constexpr std::string_view kRepeatFiller[] = {"The grass is green.", "The sky is blue.",
                                                     "The sun is yellow.", "Here we go.",
                                                     "There and back again."};

// Where filler sentences come from.
class Filler {
 public:
  // The paper's five sentences, over and over, in order.
  static Filler repeat();
  // Consecutive lines of a prose text from a random start, wrapping around.
  // Throws std::invalid_argument when no line holds a sentence.
  static Filler prose(std::vector<std::string> sentences);
  // One sentence per line; blank lines are skipped. Throws
  // std::invalid_argument naming --prose-file when the file cannot be read.
  static Filler load_prose(const std::string& path);

  bool is_prose() const { return prose_; }
  const char* name() const { return prose_ ? "prose" : "repeat"; }
  size_t size() const { return sentences_.size(); }
  const std::string& sentence(size_t i) const { return sentences_[i % sentences_.size()]; }

 private:
  Filler() = default;
  bool prose_ = false;
  std::vector<std::string> sentences_;
};

// One generated evaluation case.
struct EvalCase {
  std::string document;  // DOCUMENT, without the template's document_prefix
  std::string question;  // QUESTION; empty for summary (the summary template follows)
  std::string answer;    // ANSWER, compared exactly with the trimmed generated text
  // summary: each fact's sentence of ANSWER ("NAME lives in CITY."), in document order.
  std::vector<std::string> facts;
  double depth = 0.0;  // of the asked needle / passkey / first fact
  int64_t filler_sentences = 0;
  // encode(document_prefix + document) tokens as the generator counted them
  // (per sentence, summed): within 2% of the true count.
  int64_t estimated_tokens = 0;
};

// A small, portable stream of draws (the standard distributions are
// implementation-defined; these are not, so documents match across libraries).
class EvalRandom {
 public:
  EvalRandom(uint64_t seed, EvalTask task, int64_t length, int64_t trial);
  explicit EvalRandom(uint64_t seed) : rng_(seed) {}
  int64_t integer(int64_t lo, int64_t hi);  // uniform in [lo, hi]
  double unit();                            // uniform in [0, 1)

 private:
  std::mt19937_64 rng_;
};

// The depth of trial i of n: (i + 0.5) / n.
double trial_depth(int64_t trial, int64_t trials);
// The accuracy bucket of a depth: 0 for [0, 0.2), ..., 4 for [0.8, 1].
int depth_bucket(double depth);
// Where a sentence at depth d goes among F filler sentences: before filler
// sentence round(d x F) (F: after the last).
int64_t depth_position(double depth, int64_t filler_sentences);

// Generated text stripped of surrounding whitespace (the generator already
// cut it at the stop string).
std::string trim_answer(std::string_view generated);
// How many of `facts` the summary holds in their place: its k-th sentence
// (text up to and including a '.', trimmed) equals facts[k].
int64_t facts_in_place(std::string_view generated, const std::vector<std::string>& facts);
// How many characters of `expected` (a key or code) the answer has at the
// same position: partial retrieval, e.g. the right first digits of a key.
int64_t chars_in_place(std::string_view generated, std::string_view expected);

class EvalDocuments {
 public:
  EvalDocuments(std::shared_ptr<const Tokenizer> tokenizer, std::string document_prefix,
                Filler filler);

  // The case of trial `trial` (of `trials`) at `length` tokens.
  EvalCase make(EvalTask task, int64_t length, int64_t trial, int64_t trials, uint64_t seed) const;
  // The same at a given depth, drawing from `random`.
  EvalCase make_at(EvalTask task, int64_t length, double depth, EvalRandom& random) const;

  // Tokens of one sentence as it appears after a space in the document.
  int64_t sentence_tokens(const std::string& sentence) const;

 private:
  struct Insert {
    int64_t position;  // before filler sentence number `position`
    std::string sentence;
  };
  // Filler count F so that the document is about `length` tokens, given the
  // tokens of the task's sentences.
  int64_t filler_count(int64_t length, int64_t task_tokens, size_t start,
                       int64_t* total_tokens) const;
  int64_t filler_tokens(size_t index) const;
  std::string assemble(size_t start, int64_t filler, std::vector<Insert> inserts) const;

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::string document_prefix_;
  Filler filler_;
  int64_t head_tokens_ = 0;                   // encode(document_prefix + INSTRUCTION)
  std::vector<int32_t> filler_token_counts_;  // per filler sentence
};

}  // namespace infini::tool
