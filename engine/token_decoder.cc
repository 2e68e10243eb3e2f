#include "engine/token_decoder.h"

#include <cstdint>
#include <cstdlib>
#include <optional>

#include "engine/byte_level.h"
#include "engine/utf8_text.h"

namespace infini {
namespace {

// "<0xAB>" -> 0xAB.
std::optional<uint8_t> fallback_byte(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return std::nullopt;
  char* end = nullptr;
  const std::string hex = token.substr(3, 2);
  const long value = std::strtol(hex.c_str(), &end, 16);
  if (end != hex.c_str() + 2) return std::nullopt;
  return static_cast<uint8_t>(value);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// Byte-level characters back to bytes; a character outside the alphabet (an added
// token's text) stays as it is.
std::string byte_level_decode(const std::string& token) {
  if (auto bytes = byte_level::to_bytes(token)) return *bytes;
  std::string out;
  for (size_t pos = 0; pos < token.size();) {
    size_t n = utf8::char_length(token, pos);
    if (n == 0) n = 1;
    const std::string_view one(token.data() + pos, n);
    if (auto b = byte_level::to_bytes(one)) {
      out += *b;
    } else {
      out.append(one);
    }
    pos += n;
  }
  return out;
}

void apply(const DecoderStep& step, std::vector<std::string>& tokens) {
  switch (step.kind) {
    case DecoderStep::Kind::kByteLevel: {
      // Hugging Face joins all tokens into one here.
      std::string joined;
      for (const auto& t : tokens) joined += byte_level_decode(t);
      tokens.assign(1, std::move(joined));
      return;
    }
    case DecoderStep::Kind::kByteFallback: {
      // Runs of <0xAB> tokens become their bytes (U+FFFD for each byte when they
      // do not form valid UTF-8, as Hugging Face does).
      std::vector<std::string> out;
      std::string bytes;
      size_t byte_tokens = 0;
      auto flush = [&] {
        if (byte_tokens == 0) return;
        if (utf8::is_valid(bytes)) {
          out.push_back(bytes);
        } else {
          for (size_t i = 0; i < byte_tokens; ++i) out.emplace_back("\xEF\xBF\xBD");
        }
        bytes.clear();
        byte_tokens = 0;
      };
      for (auto& t : tokens) {
        if (auto b = fallback_byte(t)) {
          bytes.push_back(static_cast<char>(*b));
          ++byte_tokens;
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens = std::move(out);
      return;
    }
    case DecoderStep::Kind::kFuse: {
      std::string joined;
      for (const auto& t : tokens) joined += t;
      tokens.assign(1, std::move(joined));
      return;
    }
    case DecoderStep::Kind::kReplace:
      for (auto& t : tokens) t = replace_all(std::move(t), step.pattern, step.content);
      return;
    case DecoderStep::Kind::kStrip:
      for (auto& t : tokens) {
        size_t begin = 0, end = t.size();
        for (size_t i = 0; i < step.start && begin < end &&
                           t.compare(begin, step.pattern.size(), step.pattern) == 0;
             ++i) {
          begin += step.pattern.size();
        }
        for (size_t i = 0;
             i < step.stop && end >= begin + step.pattern.size() &&
             t.compare(end - step.pattern.size(), step.pattern.size(), step.pattern) == 0;
             ++i) {
          end -= step.pattern.size();
        }
        t = t.substr(begin, end - begin);
      }
      return;
    case DecoderStep::Kind::kMetaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replace_all(std::move(tokens[i]), step.pattern, " ");
        if (i == 0 && step.prepend && !tokens[i].empty() && tokens[i][0] == ' ') {
          tokens[i].erase(0, 1);
        }
      }
      return;
  }
}

}  // namespace

std::string decode_tokens(const std::vector<DecoderStep>& steps, std::vector<std::string> tokens) {
  for (const DecoderStep& step : steps) apply(step, tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

}  // namespace infini
