// A compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) as the
// Hugging Face pre-tokenizers use them (Oniguruma there; the supported patterns
// mean the same in both). Immutable after construction: one may be shared by
// threads, each match gets its own match data.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace infini {

class Regex {
 public:
  // Throws EngineError(kCorruptData) with PCRE2's message and offset, prefixed by
  // `context` (the file and key the pattern came from).
  Regex(const std::string& pattern, const std::string& context);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  enum class Outcome { kMatch, kPartial, kNone };
  struct Found {
    Outcome outcome = Outcome::kNone;
    size_t begin = 0;  // kMatch: [begin, end); kPartial: where the partial match starts
    size_t end = 0;
  };
  // The leftmost match in `subject` (valid UTF-8) at or after `start`. With
  // `growing`, the subject may continue past its end (PCRE2_PARTIAL_HARD): a match
  // that more text could change, or one found only after a start that more text
  // could turn into a match, is reported as kPartial; kMatch and kNone are then
  // final whatever follows.
  Found find(std::string_view subject, size_t start, bool growing) const;
  // Whether the pattern looks behind its match start (then a subject cut in two
  // does not match as the whole does).
  bool looks_behind() const { return looks_behind_; }

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  bool looks_behind_ = false;
};

}  // namespace infini
