#include "engine/normalizer.h"

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>

#include "engine/error.h"
#include "engine/utf8_text.h"

namespace infini {
namespace {

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

// Characters before which a normalization form may not cut: those that are not
// starters (combining class != 0), that can be the second of a canonical
// composition (so compose with what precedes), or whose decomposition starts with
// such a character. Worked out once from utf8proc's tables (planes 0-2; beyond,
// the combining class alone decides).
class CutTable {
 public:
  static const CutTable& get() {
    static const CutTable table;
    return table;
  }
  bool unsafe(char32_t c, bool compat) const {
    if (c < kSize) return (flags_[c] & (compat ? kCompat : kCanonical)) != 0;
    return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class != 0;
  }

 private:
  static constexpr char32_t kSize = 0x30000;
  static constexpr uint8_t kCanonical = 1, kCompat = 2, kSecond = 4;

  CutTable() : flags_(kSize, 0) {
    utf8proc_int32_t buffer[32];
    int boundclass = 0;
    // Pass 1: the later characters of canonical decompositions.
    for (char32_t c = 0; c < kSize; ++c) {
      const auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer, 32,
                                             UTF8PROC_DECOMPOSE, &boundclass);
      for (utf8proc_ssize_t i = 1; i < n && i < 32; ++i) {
        if (static_cast<char32_t>(buffer[i]) < kSize) flags_[buffer[i]] |= kSecond;
      }
    }
    for (char32_t c = 0; c < kSize; ++c) {
      const bool second = (flags_[c] & kSecond) != 0;
      for (const bool compat : {false, true}) {
        const auto options =
            static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
        const auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer, 32,
                                               options, &boundclass);
        bool bad = second || n < 1;
        if (n >= 1) {
          const auto first = buffer[0];
          bad |= utf8proc_get_property(first)->combining_class != 0;
          bad |= static_cast<char32_t>(first) < kSize && (flags_[first] & kSecond) != 0;
        }
        if (bad) flags_[c] |= compat ? kCompat : kCanonical;
      }
    }
  }
  std::vector<uint8_t> flags_;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}

  std::string normalize(std::string_view text) const override {
    if (is_ascii(text)) return std::string(text);  // every form leaves ASCII as it is
    int options = UTF8PROC_STABLE;
    switch (form_) {
      case UnicodeForm::kNfc:
        options |= UTF8PROC_COMPOSE;
        break;
      case UnicodeForm::kNfd:
        options |= UTF8PROC_DECOMPOSE;
        break;
      case UnicodeForm::kNfkc:
        options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
      case UnicodeForm::kNfkd:
        options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &out,
                                static_cast<utf8proc_option_t>(options));
    if (n < 0) {
      throw EngineError(ErrorCode::kInternal,
                        std::string("utf8proc normalization failed: ") + utf8proc_errmsg(n));
    }
    std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
    return result;
  }

  bool boundary_before(char32_t c) const override {
    if (c < 0x80) return true;
    const bool compat = form_ == UnicodeForm::kNfkc || form_ == UnicodeForm::kNfkd;
    return !CutTable::get().unsafe(c, compat);
  }

 private:
  UnicodeForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
      const size_t n = utf8::char_length(text, pos);
      if (n == 0) {  // not reached for valid input; keep the byte
        out.push_back(text[pos++]);
        continue;
      }
      const char32_t c = utf8::decode(text, pos, n);
      utf8::append(out, c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c)
                                 : static_cast<char32_t>(
                                       utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
      pos += n;
    }
    return out;
  }
  bool boundary_before(char32_t) const override { return true; }
};

class NormalizerSequence final : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  std::string normalize(std::string_view text) const override {
    std::string out(text);
    for (const auto& part : parts_) out = part->normalize(out);
    return out;
  }
  // Conservative: each part must allow the cut on the original character (exact
  // for the parts above, which map an ASCII character to ASCII).
  bool boundary_before(char32_t c) const override {
    for (const auto& part : parts_) {
      if (!part->boundary_before(c)) return false;
    }
    return true;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

Normalizer::~Normalizer() = default;

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form) {
  return std::make_unique<UnicodeNormalizer>(form);
}
std::unique_ptr<Normalizer> make_lowercase_normalizer() {
  return std::make_unique<LowercaseNormalizer>();
}
std::unique_ptr<Normalizer> make_normalizer_sequence(
    std::vector<std::unique_ptr<Normalizer>> parts) {
  return std::make_unique<NormalizerSequence>(std::move(parts));
}

}  // namespace infini
