// Validates UTF-8 that arrives in chunks cut anywhere: a sequence may start
// in one chunk and end in the next. Checking a chunk does not change the
// validator; commit() does, so a rejected chunk leaves no trace.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace infini {

class Utf8Validator {
 public:
  struct Result {
    // Offset from the start of the stream of the first byte that cannot be
    // valid UTF-8, or nullopt when the chunk is fine.
    std::optional<int64_t> invalid_at;
    // State after the chunk, to commit() when the chunk is accepted.
    uint32_t needed = 0;
    uint32_t lower = 0x80, upper = 0xBF;
    int64_t offset = 0;
  };

  Result check(std::string_view chunk) const;
  void commit(const Result& result);
  // True when no multi-byte sequence is left open.
  bool complete() const { return needed_ == 0; }
  int64_t offset() const { return offset_; }

  // The validator as a session snapshot keeps it: an open sequence and the offset.
  Result state() const { return Result{std::nullopt, needed_, lower_, upper_, offset_}; }
  void restore(const Result& state) { commit(state); }

 private:
  uint32_t needed_ = 0;               // continuation bytes still expected
  uint32_t lower_ = 0x80, upper_ = 0xBF;  // allowed range of the next continuation byte
  int64_t offset_ = 0;
};

}  // namespace infini
