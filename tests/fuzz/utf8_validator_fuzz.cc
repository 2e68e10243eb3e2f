// Bytes cut into chunks -> Utf8Validator, as Ingest feeds it: check() each
// chunk, commit() the accepted ones, stop at the first rejected one. Its verdict
// must equal a reference check of the whole buffer, written differently from the
// validator's table: the first invalid byte is the first one after which the bytes
// read so far are no longer the beginning of any valid UTF-8 text. A rejected
// chunk must leave the validator unchanged.
//
// Input layout (tests/fuzz/README.md):
//   byte 0     number of cuts n (modulo 32)
//   n bytes    the lengths of the first n chunks (0-255; clamped to the bytes left)
//   the rest   the bytes; what the n chunks leave is the last chunk
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/utf8_validator.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// Whether some code point of a `length`-byte encoding has the bits fixed so far:
// `value` holds them, `free_bits` low bits are still open. A code point is valid
// when it is at most U+10FFFF, not a surrogate, and needs `length` bytes (no
// overlong form).
bool can_complete(uint32_t value, int free_bits, int length) {
  static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  const uint64_t low = std::max<uint64_t>(uint64_t{value} << free_bits, kShortest[length]);
  const uint64_t high =
      std::min<uint64_t>(((uint64_t{value} + 1) << free_bits) - 1, uint64_t{0x10FFFF});
  if (low > high) return false;
  return low < 0xD800 || high > 0xDFFF;  // not entirely inside the surrogates
}

struct Reference {
  std::optional<int64_t> invalid_at;
  bool complete = true;  // no character left open at the end
};

Reference reference_check(std::string_view bytes) {
  Reference r;
  int length = 0;  // of the character being read; 0 between characters
  int read = 0;
  uint32_t value = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (length == 0) {
      const int ones = b < 0x80 ? 0 : b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 5;
      if (ones == 0) continue;
      if (ones == 1 || ones == 5) {  // a continuation byte, or no UTF-8 lead byte
        r.invalid_at = static_cast<int64_t>(i);
        return r;
      }
      length = ones;
      read = 1;
      value = b & (0x7F >> ones);
    } else {
      if ((b & 0xC0) != 0x80) {
        r.invalid_at = static_cast<int64_t>(i);
        return r;
      }
      value = value << 6 | (b & 0x3F);
      ++read;
    }
    if (!can_complete(value, 6 * (length - read), length)) {
      r.invalid_at = static_cast<int64_t>(i);
      return r;
    }
    if (read == length) length = 0;
  }
  r.complete = length == 0;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using infini::fuzz::check;
  using infini::Utf8Validator;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t cuts = input.empty() ? 0 : static_cast<uint8_t>(input[0]) % 32;
  input.remove_prefix(input.empty() ? 0 : 1);
  cuts = std::min(cuts, input.size());
  const std::string_view lengths = input.substr(0, cuts);
  const std::string_view bytes = input.substr(cuts);
  std::vector<std::string_view> chunks;
  std::string_view rest = bytes;
  for (char length : lengths) {
    const size_t n = std::min<size_t>(static_cast<uint8_t>(length), rest.size());
    chunks.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  chunks.push_back(rest);

  const Reference expected = reference_check(bytes);
  Utf8Validator validator;
  std::optional<int64_t> invalid_at;
  int64_t chunk_start = 0;
  for (std::string_view chunk : chunks) {
    check(validator.offset() == chunk_start, "offset() is not the bytes accepted so far");
    const Utf8Validator::Result result = validator.check(chunk);
    if (result.invalid_at) {
      invalid_at = result.invalid_at;
      // Ingest reports the byte within the chunk too.
      check(*invalid_at >= chunk_start &&
                *invalid_at < chunk_start + static_cast<int64_t>(chunk.size()),
            "invalid_at outside the chunk checked");
      const Utf8Validator::Result again = validator.check(chunk);
      check(again.invalid_at == result.invalid_at, "check() is not repeatable");
      check(validator.offset() == chunk_start, "a rejected chunk moved the validator");
      break;
    }
    check(result.offset == chunk_start + static_cast<int64_t>(chunk.size()),
          "offset after an accepted chunk");
    validator.commit(result);
    check(validator.complete() == (result.needed == 0), "complete() disagrees with needed");
    chunk_start += static_cast<int64_t>(chunk.size());
  }
  check(invalid_at == expected.invalid_at, "invalid_at differs from the reference");
  if (!invalid_at) check(validator.complete() == expected.complete, "complete() at the end");
  return 0;
}
