#include "engine/byte_level.h"

#include <vector>

#include "engine/utf8_text.h"

namespace infini::byte_level {
namespace {

struct Alphabet {
  std::array<std::string, 256> chars;
  std::vector<int16_t> byte_of;  // code point -> byte, -1 when not in the alphabet

  Alphabet() : byte_of(512, -1) {
    // Printable bytes stand for themselves; the others, in order, for 256 + n.
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const char32_t c = printable ? static_cast<char32_t>(b) : next++;
      utf8::append(chars[b], c);
      byte_of[c] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

const std::string& char_of(uint8_t byte) { return alphabet().chars[byte]; }

std::optional<std::string> to_bytes(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = utf8::char_length(text, pos);
    if (n == 0) return std::nullopt;
    const char32_t c = utf8::decode(text, pos, n);
    if (c >= a.byte_of.size() || a.byte_of[c] < 0) return std::nullopt;
    out.push_back(static_cast<char>(a.byte_of[c]));
    pos += n;
  }
  return out;
}

std::string from_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) out += char_of(static_cast<uint8_t>(b));
  return out;
}

}  // namespace infini::byte_level
