#include "engine/pre_tokenizer.h"

#include <utility>

#include "engine/error.h"
#include "engine/utf8_text.h"

namespace infini {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

class RegexSplit final : public PreTokenizer {
 public:
  RegexSplit(const std::string& pattern, SplitBehavior behavior, const std::string& context)
      : regex_(pattern, context), behavior_(behavior) {
    if (regex_.looks_behind()) {
      // Each piece is its own subject, as in Hugging Face; but streaming could not
      // know what a cut left behind.
      throw EngineError(ErrorCode::kUnsupported,
                        context + ": patterns that look behind are not supported");
    }
  }

  void split(std::string_view text, Span piece, std::vector<Span>& out) const override {
    run(text, piece, out, /*growing=*/false, nullptr);
  }

  size_t split_growing(std::string_view text, Span piece, std::vector<Span>& out,
                       bool* rest_is_token) const override {
    return run(text, piece, out, /*growing=*/true, rest_is_token);
  }

 private:
  // The text between matches is a pre-token, and so is each match (Isolated) or
  // it is dropped (Removed: the matches are delimiters). Returns where the text
  // not yet final starts.
  size_t run(std::string_view text, Span piece, std::vector<Span>& out, bool growing,
             bool* rest_is_token) const {
    const std::string_view subject = text.substr(piece.begin, piece.end - piece.begin);
    size_t pos = 0;  // end of the last pre-token, relative to the piece
    size_t search = 0;
    while (search <= subject.size()) {
      const Regex::Found found = regex_.find(subject, search, growing);
      if (found.outcome == Regex::Outcome::kPartial) {
        *rest_is_token = false;
        return piece.begin + pos;
      }
      if (found.outcome == Regex::Outcome::kNone) break;
      if (found.end == found.begin) {
        // Hugging Face drops empty matches; step over one character.
        if (found.begin >= subject.size()) break;
        const size_t n = utf8::char_length(subject, found.begin);
        search = found.begin + (n == 0 ? 1 : n);
        continue;
      }
      if (found.begin > pos) out.push_back({piece.begin + pos, piece.begin + found.begin});
      if (behavior_ == SplitBehavior::kIsolated) {
        out.push_back({piece.begin + found.begin, piece.begin + found.end});
      }
      pos = search = found.end;
    }
    if (growing) {
      // No match can start before the end any more (each attempt failed before
      // reaching it): the rest is the start of the text between matches.
      *rest_is_token = true;
      return piece.begin + pos;
    }
    if (pos < subject.size()) out.push_back({piece.begin + pos, piece.end});
    return piece.end;
  }

  Regex regex_;
  SplitBehavior behavior_;
};

class IdentitySplit final : public PreTokenizer {
 public:
  void split(std::string_view, Span piece, std::vector<Span>& out) const override {
    if (piece.end > piece.begin) out.push_back(piece);
  }
  size_t split_growing(std::string_view, Span piece, std::vector<Span>&,
                       bool* rest_is_token) const override {
    *rest_is_token = true;
    return piece.begin;
  }
};

class PreTokenizerSequence final : public PreTokenizer {
 public:
  explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> stages)
      : stages_(std::move(stages)) {}

  void split(std::string_view text, Span piece, std::vector<Span>& out) const override {
    std::vector<Span> current{piece}, next;
    for (const auto& stage : stages_) {
      next.clear();
      for (const Span& s : current) stage->split(text, s, next);
      current.swap(next);
    }
    out.insert(out.end(), current.begin(), current.end());
  }

  // Each stage splits the final pieces of the stage before completely, and the
  // growing rest only when that stage knows it to be one pre-token.
  size_t split_growing(std::string_view text, Span piece, std::vector<Span>& out,
                       bool* rest_is_token) const override {
    std::vector<Span> current, next;
    size_t rest = piece.begin;
    bool rest_known = true;
    for (const auto& stage : stages_) {
      next.clear();
      for (const Span& s : current) stage->split(text, s, next);
      if (rest_known) {
        rest = stage->split_growing(text, {rest, piece.end}, next, &rest_known);
      }
      current.swap(next);
    }
    out.insert(out.end(), current.begin(), current.end());
    *rest_is_token = rest_known;
    return rest;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> stages_;
};

}  // namespace

PreTokenizer::~PreTokenizer() = default;

std::unique_ptr<PreTokenizer> make_regex_split(const std::string& pattern, SplitBehavior behavior,
                                               const std::string& context) {
  return std::make_unique<RegexSplit>(pattern, behavior, context);
}

std::unique_ptr<PreTokenizer> make_gpt2_split(const std::string& context) {
  return std::make_unique<RegexSplit>(kGpt2Pattern, SplitBehavior::kIsolated, context);
}

std::unique_ptr<PreTokenizer> make_digits_split(bool individual_digits) {
  return std::make_unique<RegexSplit>(individual_digits ? R"(\p{N})" : R"(\p{N}+)",
                                      SplitBehavior::kIsolated, "Digits pre-tokenizer");
}

std::unique_ptr<PreTokenizer> make_identity_split() { return std::make_unique<IdentitySplit>(); }

std::unique_ptr<PreTokenizer> make_pre_tokenizer_sequence(
    std::vector<std::unique_ptr<PreTokenizer>> stages) {
  return std::make_unique<PreTokenizerSequence>(std::move(stages));
}

}  // namespace infini
