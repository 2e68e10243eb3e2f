#include "engine/utf8_text.h"

#include <cstdint>

namespace infini::utf8 {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Range the second byte must be in after `lead` (Unicode Table 3-7); later
// continuation bytes are always 80..BF.
bool second_ok(uint8_t lead, uint8_t byte) {
  switch (lead) {
    case 0xE0:
      return byte >= 0xA0 && byte <= 0xBF;
    case 0xED:
      return byte >= 0x80 && byte <= 0x9F;
    case 0xF0:
      return byte >= 0x90 && byte <= 0xBF;
    case 0xF4:
      return byte >= 0x80 && byte <= 0x8F;
    default:
      return byte >= 0x80 && byte <= 0xBF;
  }
}

size_t expected_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // 80..C1, F5..FF never start a character
}

// How many bytes from pos form a well-formed prefix of a character (at most its
// full length), and that full length (0 for a bad lead byte).
size_t well_formed_prefix(std::string_view text, size_t pos, size_t& needed) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  needed = expected_length(lead);
  if (needed == 0) return 0;
  size_t n = 1;
  while (n < needed && pos + n < text.size()) {
    const auto byte = static_cast<uint8_t>(text[pos + n]);
    if (n == 1 ? !second_ok(lead, byte) : (byte < 0x80 || byte > 0xBF)) break;
    ++n;
  }
  return n;
}

}  // namespace

size_t char_length(std::string_view text, size_t pos, size_t* subpart) {
  size_t needed = 0;
  const size_t n = well_formed_prefix(text, pos, needed);
  if (needed != 0 && n == needed) return n;
  if (subpart != nullptr) *subpart = n == 0 ? 1 : n;
  return 0;
}

bool is_valid(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = char_length(text, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string to_valid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t subpart = 0;
    const size_t n = char_length(text, pos, &subpart);
    if (n > 0) {
      out.append(text.substr(pos, n));
      pos += n;
    } else {
      out.append(kReplacement);
      pos += subpart;
    }
  }
  return out;
}

size_t complete_prefix(std::string_view text) {
  // An incomplete character is at most 3 bytes long.
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    const size_t pos = text.size() - back;
    const auto byte = static_cast<uint8_t>(text[pos]);
    if (byte >= 0x80 && byte <= 0xBF) continue;  // continuation: look further back
    size_t needed = 0;
    const size_t n = well_formed_prefix(text, pos, needed);
    return (needed > back && n == back) ? pos : text.size();
  }
  return text.size();
}

char32_t decode(std::string_view text, size_t pos, size_t length) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  switch (length) {
    case 1:
      return b(0);
    case 2:
      return (char32_t{b(0)} & 0x1F) << 6 | (b(1) & 0x3F);
    case 3:
      return (char32_t{b(0)} & 0x0F) << 12 | (char32_t{b(1)} & 0x3F) << 6 | (b(2) & 0x3F);
    default:
      return (char32_t{b(0)} & 0x07) << 18 | (char32_t{b(1)} & 0x3F) << 12 |
             (char32_t{b(2)} & 0x3F) << 6 | (b(3) & 0x3F);
  }
}

void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace infini::utf8
