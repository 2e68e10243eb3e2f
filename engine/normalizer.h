// Hugging Face normalizers (tokenizer.json "normalizer"): Unicode forms (NFC,
// NFD, NFKC, NFKD, by utf8proc), Lowercase, and Sequence of them. Each also says
// where text may be cut so that normalizing the parts gives the normalization of
// the whole (what the streaming encoder needs).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace infini {

class Normalizer {
 public:
  virtual ~Normalizer();
  // `text` is valid UTF-8; so is the result.
  virtual std::string normalize(std::string_view text) const = 0;
  // True when normalize(a + b) == normalize(a) + normalize(b) for every a and b
  // where b starts with `c`.
  virtual bool boundary_before(char32_t c) const = 0;
};

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };
std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form);
// Simple (one code point to one) lowercase mapping, as Unicode's UnicodeData.txt.
std::unique_ptr<Normalizer> make_lowercase_normalizer();
std::unique_ptr<Normalizer> make_normalizer_sequence(
    std::vector<std::unique_ptr<Normalizer>> parts);

}  // namespace infini
