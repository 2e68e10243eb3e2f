#include "engine/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/error.h"

namespace infini {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int error) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(error, buffer, sizeof buffer);
  return n < 0 ? "PCRE2 error " + std::to_string(error)
               : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

struct MatchData {
  explicit MatchData(const pcre2_code* code)
      : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (data == nullptr) throw EngineError(ErrorCode::kInternal, "PCRE2: out of memory");
  }
  ~MatchData() { pcre2_match_data_free(data); }
  pcre2_match_data* data;
};

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& context)
    : code_(std::make_unique<Code>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code_->code == nullptr) {
    throw EngineError(
        ErrorCode::kCorruptData,
        context + ": bad regex at offset " + std::to_string(offset) + ": " + pcre2_message(error));
  }
  // Without JIT (an unsupported CPU) the interpreter gives the same matches, slower.
  code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) == 0;
  uint32_t lookbehind = 0;
  pcre2_pattern_info(code_->code, PCRE2_INFO_MAXLOOKBEHIND, &lookbehind);
  looks_behind_ = lookbehind > 0;
}

Regex::~Regex() = default;

Regex::Found Regex::find(std::string_view subject, size_t start, bool growing) const {
  MatchData match(code_->code);
  const uint32_t options = PCRE2_NO_UTF_CHECK | (growing ? PCRE2_PARTIAL_HARD : 0);
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                             subject.size(), start, options, match.data, nullptr);
  Found found;
  if (rc == PCRE2_ERROR_NOMATCH) return found;
  if (rc < 0 && rc != PCRE2_ERROR_PARTIAL) {
    throw EngineError(ErrorCode::kInternal, "PCRE2 match failed: " + pcre2_message(rc));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
  found.outcome = rc == PCRE2_ERROR_PARTIAL ? Outcome::kPartial : Outcome::kMatch;
  found.begin = ovector[0];
  found.end = ovector[1];
  return found;
}

}  // namespace infini
