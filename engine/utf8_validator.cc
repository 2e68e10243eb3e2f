#include "engine/utf8_validator.h"

namespace infini {

// The decoder of the Unicode standard (table 3-7, well-formed byte
// sequences): rejects overlong forms, surrogates and values past U+10FFFF
// at the first byte that makes them so.
Utf8Validator::Result Utf8Validator::check(std::string_view chunk) const {
  Result r;
  r.needed = needed_;
  r.lower = lower_;
  r.upper = upper_;
  r.offset = offset_;
  for (unsigned char b : chunk) {
    if (r.needed == 0) {
      if (b <= 0x7F) {
      } else if (b >= 0xC2 && b <= 0xDF) {
        r.needed = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        r.needed = 2;
        r.lower = b == 0xE0 ? 0xA0 : 0x80;
        r.upper = b == 0xED ? 0x9F : 0xBF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        r.needed = 3;
        r.lower = b == 0xF0 ? 0x90 : 0x80;
        r.upper = b == 0xF4 ? 0x8F : 0xBF;
      } else {
        r.invalid_at = r.offset;
        return r;
      }
    } else {
      if (b < r.lower || b > r.upper) {
        r.invalid_at = r.offset;
        return r;
      }
      r.lower = 0x80;
      r.upper = 0xBF;
      --r.needed;
    }
    ++r.offset;
  }
  return r;
}

void Utf8Validator::commit(const Result& result) {
  needed_ = result.needed;
  lower_ = result.lower;
  upper_ = result.upper;
  offset_ = result.offset;
}

}  // namespace infini
