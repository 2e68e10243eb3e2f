// GPT-2's byte-level alphabet (Hugging Face's ByteLevel pre-tokenizer and
// decoder): each of the 256 bytes is shown as one printable character, so that
// a byte-level BPE vocabulary is written in text ("\u0120the" is " the").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace infini::byte_level {

// The UTF-8 of the character that stands for `byte`.
const std::string& char_of(uint8_t byte);
// The bytes a byte-level string stands for; nullopt when a character of it is not
// in the alphabet (then the string is not byte-level text).
std::optional<std::string> to_bytes(std::string_view text);
// Bytes -> byte-level text.
std::string from_bytes(std::string_view bytes);

}  // namespace infini::byte_level
