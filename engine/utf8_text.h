// UTF-8 helpers the tokenizers share: validation with the "maximal subpart"
// rule (Unicode 15, section 3.9; what Rust's String::from_utf8_lossy and
// SentencePiece do), code point iteration and encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace infini::utf8 {

// Length of the well-formed character at text[pos], or 0 when the bytes there are
// not one; then *subpart is the length of the maximal ill-formed subpart (>= 1),
// which becomes one U+FFFD.
size_t char_length(std::string_view text, size_t pos, size_t* subpart = nullptr);
bool is_valid(std::string_view text);
// The text with each maximal ill-formed subpart replaced by U+FFFD.
std::string to_valid(std::string_view text);
// Length of `text` without a trailing incomplete character (a proper prefix of a
// well-formed one), which more bytes could still complete.
size_t complete_prefix(std::string_view text);
// The code point of the well-formed character at text[pos] (length `length`).
char32_t decode(std::string_view text, size_t pos, size_t length);
void append(std::string& out, char32_t code_point);

}  // namespace infini::utf8
