#include "engine/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"

namespace infini {
namespace {

std::string data_path(std::string_view relative) {
  return std::string(INFINI_TEST_DATA_DIR) + "/" + std::string(relative);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << path;
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::shared_ptr<const Tokenizer> load_test_tokenizer(std::string_view name = "tokenizer.model") {
  return Tokenizer::load(data_path("tokenizer/" + std::string(name)));
}

void append(std::vector<int32_t>& out, const std::vector<int32_t>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

// Feeds `text` in chunks cut at `cuts` (increasing byte offsets) and finishes.
std::vector<int32_t> stream_with_cuts(StreamingEncoder& encoder, std::string_view text,
                                      const std::vector<size_t>& cuts) {
  std::vector<int32_t> out;
  size_t begin = 0;
  for (size_t cut : cuts) {
    append(out, encoder.push(text.substr(begin, cut - begin)));
    begin = cut;
  }
  append(out, encoder.push(text.substr(begin)));
  append(out, encoder.finish());
  return out;
}

// Random cut points with chunk lengths uniform in 1..max_chunk bytes.
std::vector<size_t> random_cuts(size_t size, size_t max_chunk, std::mt19937& rng) {
  std::uniform_int_distribution<size_t> length(1, max_chunk);
  std::vector<size_t> cuts;
  for (size_t pos = length(rng); pos < size; pos += length(rng)) cuts.push_back(pos);
  return cuts;
}

bool is_utf8_continuation(char byte) { return (static_cast<uint8_t>(byte) & 0xC0) == 0x80; }

// Collapses whitespace runs to one space and trims, as the default normalizer does.
std::string collapse_whitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      space = !out.empty();
    } else {
      if (space) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
  }
  return out;
}

// Compares long texts without printing them whole.
void expect_same_text(const std::string& actual, const std::string& expected) {
  if (actual == expected) return;
  const auto [a, e] = std::mismatch(actual.begin(), actual.end(), expected.begin(), expected.end());
  const size_t at = static_cast<size_t>(a - actual.begin());
  ADD_FAILURE() << "texts of " << actual.size() << " and " << expected.size()
                << " bytes differ at byte " << at << ": \"" << actual.substr(at, 40) << "\" vs \""
                << expected.substr(at, 40) << "\"";
}

// ---- Tokenizer ----

TEST(TokenizerTest, ReportsVocabularyAndSpecialIds) {
  auto tokenizer = load_test_tokenizer();
  EXPECT_EQ(tokenizer->vocab_size(), 2000);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->piece_to_id("<unk>"), 0);
  EXPECT_EQ(tokenizer->piece_to_id("<doc>"), 3);
  EXPECT_EQ(tokenizer->piece_to_id("<end>"), 7);
  EXPECT_EQ(tokenizer->piece_to_id("\xE2\x96\x81the"), tokenizer->encode("the").at(0));
  EXPECT_EQ(tokenizer->piece_to_id("no such piece"), -1);
}

TEST(TokenizerTest, TemplateSymbolsAreSinglePieces) {
  auto tokenizer = load_test_tokenizer();
  const auto ids = tokenizer->encode("a<question>b");
  EXPECT_NE(std::find(ids.begin(), ids.end(), tokenizer->piece_to_id("<question>")), ids.end());
  EXPECT_EQ(tokenizer->decode(ids), "a<question>b");
}

TEST(TokenizerTest, RoundTripsEnglishTextUpToWhitespace) {
  auto tokenizer = load_test_tokenizer();
  const std::string text = read_file(data_path("text/english.txt"));
  const auto ids = tokenizer->encode(text);
  // A trained vocabulary compresses in-domain English well below a byte per token.
  EXPECT_LT(ids.size(), text.size() / 3);
  EXPECT_EQ(tokenizer->decode(ids), collapse_whitespace(text));
}

TEST(TokenizerTest, WhitespaceKeepingModelRoundTripsAnyTextExactly) {
  auto tokenizer = load_test_tokenizer("llama_style.model");
  const std::string text = read_file(data_path("text/odd_whitespace.txt"));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
}

TEST(TokenizerTest, ByteFallbackEncodesUnseenCharacters) {
  auto tokenizer = load_test_tokenizer();
  const std::string text = "\xF0\x9F\xA6\x99 \xE4\xBD\xA0";  // U+1F999, U+4F60
  const auto ids = tokenizer->encode(text);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 0) << "no <unk> with byte fallback";
  EXPECT_EQ(tokenizer->decode(ids), text);
}

TEST(TokenizerTest, PieceTextIsWhatDecodingShows) {
  auto tokenizer = load_test_tokenizer();
  EXPECT_EQ(tokenizer->piece_text(tokenizer->piece_to_id("\xE2\x96\x81the")), " the");
  EXPECT_EQ(tokenizer->piece_text(tokenizer->piece_to_id("<0x41>")), "A");
  EXPECT_EQ(tokenizer->piece_text(tokenizer->bos_id()), "");
  EXPECT_EQ(tokenizer->piece_text(tokenizer->piece_to_id("<doc>")), "<doc>");
  // Pieces concatenated give the decoded text with the dummy prefix's space in front.
  const std::string text = "Everyone is permitted to copy 1234 copies, caf\xC3\xA9.";
  std::string joined;
  for (int32_t id : tokenizer->encode(text)) joined += tokenizer->piece_text(id);
  EXPECT_EQ(joined, " " + text);
}

TEST(TokenizerTest, RejectsIdsOutsideTheVocabulary) {
  auto tokenizer = load_test_tokenizer();
  for (int32_t id : {-1, 2000, 1 << 30}) {
    try {
      tokenizer->decode({5, id});
      FAIL() << "decode accepted id " << id;
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
    }
    try {
      tokenizer->piece_text(id);
      FAIL() << "piece_text accepted id " << id;
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
    }
  }
}

// ---- Loading errors ----

ErrorCode load_error(const std::string& path, std::string* message = nullptr) {
  try {
    Tokenizer::load(path);
  } catch (const EngineError& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "loaded " << path;
  return ErrorCode::kInternal;
}

TEST(TokenizerLoadTest, MissingFileIsNotFound) {
  const std::string path = data_path("tokenizer/no_such.model");
  std::string message;
  EXPECT_EQ(load_error(path, &message), ErrorCode::kNotFound);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(load_error(data_path("tokenizer")), ErrorCode::kNotFound) << "a directory";
}

TEST(TokenizerLoadTest, CorruptFilesAreCorruptData) {
  const std::string dir = ::testing::TempDir() + "tokenizer_load_test";
  std::filesystem::create_directories(dir);
  const std::string model = read_file(data_path("tokenizer/tokenizer.model"));
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.model", ""},
      {"text.model", read_file(data_path("text/english.txt"))},
      {"noise.model", noise},
      {"truncated.model", model.substr(0, model.size() / 2)},
      {"truncated_end.model", model.substr(0, model.size() - 3)},
  };
  for (const auto& [name, bytes] : cases) {
    const std::string path = dir + "/" + name;
    write_file(path, bytes);
    std::string message;
    EXPECT_EQ(load_error(path, &message), ErrorCode::kCorruptData) << name << ": " << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
}

// ---- StreamingEncoder, for each kind of model ----

// A test model, optionally with settings overridden by serialized ModelProto fields
// appended to the file (protobuf merges a message field that occurs twice).
struct ModelVariant {
  const char* name;
  const char* file;
  std::string overrides;
  bool whitespace_cuts;  // whether the encoder can cut exactly before whitespace
};

// ModelProto.normalizer_spec = {field: value} (NormalizerSpec fields 3
// add_dummy_prefix, 4 remove_extra_whitespaces).
std::string normalizer_override(int field, bool value) {
  return std::string{0x1a, 0x02, static_cast<char>(field << 3), static_cast<char>(value)};
}

// ModelProto.trainer_spec = {treat_whitespace_as_suffix (field 24): true}.
std::string whitespace_suffix_override() {
  return std::string{0x12, 0x03, static_cast<char>(0xC0), 0x01, 0x01};
}

// ModelProto.pieces += {piece: "e\u2581t", type: USER_DEFINED}: a piece that spans a
// word start, as in "the term".
std::string piece_across_words_override() {
  const std::string piece = "e\xE2\x96\x81t";
  std::string entry = {0x0a, static_cast<char>(piece.size())};
  entry += piece + std::string{0x18, 0x04};
  return std::string{0x0a, static_cast<char>(entry.size())} + entry;
}

void PrintTo(const ModelVariant& variant, std::ostream* os) { *os << variant.name; }

std::vector<ModelVariant> model_variants() {
  return {
      {"bpe", "tokenizer.model", "", true},
      {"llama_style", "llama_style.model", "", true},
      {"unigram", "unigram.model", "", true},
      // Whitespace kept, and a character map that turns U+3000 and others into spaces.
      {"custom_rules", "custom_rules.model", "", true},
      // nmt_nfkc but whitespace kept: cuts need an ASCII byte before them.
      {"nfkc_keep_whitespace", "tokenizer.model", normalizer_override(4, false), true},
      {"no_dummy_keep_whitespace", "tokenizer.model",
       normalizer_override(3, false) + normalizer_override(4, false), true},
      // Text after a whitespace cut would lose its leading space: no whitespace cuts.
      {"no_dummy_prefix", "tokenizer.model", normalizer_override(3, false), false},
      {"whitespace_suffix", "tokenizer.model", whitespace_suffix_override(), false},
      {"piece_across_words", "tokenizer.model", piece_across_words_override(), false},
  };
}

class StreamingEncoderTest : public ::testing::TestWithParam<ModelVariant> {
 protected:
  void SetUp() override {
    const ModelVariant& variant = GetParam();
    if (variant.overrides.empty()) {
      tokenizer_ = load_test_tokenizer(variant.file);
    } else {
      const std::string path = ::testing::TempDir() + "tokenizer_test_" + variant.name + ".model";
      write_file(
          path, read_file(data_path("tokenizer/" + std::string(variant.file))) + variant.overrides);
      tokenizer_ = Tokenizer::load(path);
    }
  }

  // Every way of cutting `text` in two, then one byte at a time.
  void expect_chunk_invariant(std::string_view text) {
    const auto whole = tokenizer_->encode(text);
    StreamingEncoder encoder(tokenizer_);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      ASSERT_EQ(stream_with_cuts(encoder, text, {cut}), whole)
          << "text \"" << text << "\" cut at " << cut;
    }
    std::vector<size_t> every_byte;
    for (size_t cut = 1; cut < text.size(); ++cut) every_byte.push_back(cut);
    ASSERT_EQ(stream_with_cuts(encoder, text, every_byte), whole) << "text \"" << text << "\"";
  }

  std::shared_ptr<const Tokenizer> tokenizer_;
};

TEST(ModelVariantTest, OverridesChangeTheNormalizer) {
  // Guards the variants below: each override must really change encoding.
  const std::string model = read_file(data_path("tokenizer/tokenizer.model"));
  const std::string dir = ::testing::TempDir();
  auto load_with = [&](const std::string& overrides, const std::string& name) {
    write_file(dir + name, model + overrides);
    return Tokenizer::load(dir + name);
  };
  const auto plain = load_test_tokenizer();
  const auto no_dummy = load_with(normalizer_override(3, false), "variant_no_dummy.model");
  const auto keep = load_with(normalizer_override(4, false), "variant_keep.model");
  const auto suffix = load_with(whitespace_suffix_override(), "variant_suffix.model");
  EXPECT_NE(no_dummy->encode("the"), plain->encode("the"));
  EXPECT_NE(keep->encode("a  b"), plain->encode("a  b"));
  EXPECT_NE(suffix->encode("the cat"), plain->encode("the cat"));
  const auto across = load_with(piece_across_words_override(), "variant_across.model");
  EXPECT_EQ(across->vocab_size(), plain->vocab_size() + 1);
  EXPECT_NE(across->encode("the term"), plain->encode("the term"));
}

TEST_P(StreamingEncoderTest, RandomChunkingsOfEnglishTextGiveWholeTextIds) {
  const std::string text = read_file(data_path("text/english.txt"));
  const auto whole = tokenizer_->encode(text);
  StreamingEncoder encoder(tokenizer_);
  for (uint32_t seed = 0; seed < 40; ++seed) {
    std::mt19937 rng(seed);
    const size_t max_chunk = 1 + seed * 5;  // 1 .. 196 bytes
    const auto cuts = random_cuts(text.size(), max_chunk, rng);
    ASSERT_EQ(stream_with_cuts(encoder, text, cuts), whole) << "seed " << seed;
  }
}

TEST_P(StreamingEncoderTest, RandomChunkingsOfOddTextGiveWholeTextIds) {
  const std::string text = read_file(data_path("text/odd_whitespace.txt"));
  const auto whole = tokenizer_->encode(text);
  StreamingEncoder encoder(tokenizer_);
  size_t cuts_inside_characters = 0;
  for (uint32_t seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(1000 + seed);
    const auto cuts = random_cuts(text.size(), 1 + seed % 200, rng);
    for (size_t cut : cuts) cuts_inside_characters += is_utf8_continuation(text[cut]);
    ASSERT_EQ(stream_with_cuts(encoder, text, cuts), whole) << "seed " << seed;
  }
  EXPECT_GT(cuts_inside_characters, 100u);
}

TEST_P(StreamingEncoderTest, EveryTwoWaySplitOfOddTextGivesWholeTextIds) {
  expect_chunk_invariant(read_file(data_path("text/odd_whitespace.txt")));
}

TEST_P(StreamingEncoderTest, EdgeCasesAreChunkInvariant) {
  for (const char* text : {
           "",
           " ",
           "\n",
           " \t\n\r\f ",
           "a",
           " a",
           "a ",
           "  a  ",
           "a b",
           "a  b",
           "a\tb",
           "a\n\nb",
           "\n\na",
           "a\n",
           "ab cd ef",
           "x\xE3\x80\x80 y",
           "x \xE3\x80\x80y",
           "x\xC2\xA0 y",
           "x\xE2\x80\x8B y",
           "x \xE2\x80\x8B y",
           "\xE2\x80\x8B x",
           "12 34\t5 6789",
           "caf\xC3\xA9 na\xC3\xAFve",
           "e\xCC\x81 \xCC\x81x",
           "\xEF\xAC\x81le \xE2\x91\xA0 \xEF\xBC\xA1",
           "<doc> a<question>b <end>",
           "\xF0\x9F\x98\x80 \xF0\x9F\x98\x80\xF0\x9F\x98\x80",
           "a\x01 \x7f b",
           "word\r\nword",
           "a\x0b b",
           " \xE4\xBD\xA0\xE5\xA5\xBD \xE4\xB8\x96",
       }) {
    expect_chunk_invariant(text);
  }
}

// A U+2581 in the text is whitespace to the model (escaping turns spaces into it), so
// no cut may follow one: "x\u2581 y" once streamed as "x\u2581" + " y" with the
// llama_style model (found by tests/fuzz/tokenizer_stream_fuzz.cc).
TEST_P(StreamingEncoderTest, SpaceSymbolInTextIsChunkInvariant) {
  for (const char* text : {
           "x\xE2\x96\x81 y",
           "\xE2\x96\x81\xE2\x96\x81 ",
           "a \xE2\x96\x81 b",
           "x\xE2\x96\x81\xE2\x96\x81\t\ty \xE2\x96\x81",
           "\xE2\x96\x81 x\xE2\x96\x81\n",
       }) {
    expect_chunk_invariant(text);
  }
}

// Random texts drawn from words, whitespace of every kind and awkward characters.
TEST_P(StreamingEncoderTest, RandomTextsAreChunkInvariant) {
  const std::vector<std::string> atoms = {"the",
                                          "License",
                                          "software",
                                          "x",
                                          "42",
                                          "3.14",
                                          "caf\xC3\xA9",
                                          "\xE4\xBD\xA0\xE5\xA5\xBD",
                                          "\xF0\x9F\x98\x80",
                                          "e\xCC\x81",
                                          "\xEF\xAC\x81",
                                          "<doc>",
                                          "<end>",
                                          ",",
                                          ".",
                                          "--",
                                          " ",
                                          " ",
                                          " ",
                                          "  ",
                                          "\t",
                                          "\n",
                                          "\n\n",
                                          "\r\n",
                                          "\f",
                                          "\xE3\x80\x80",
                                          "\xC2\xA0",
                                          "\xE2\x80\x8B",
                                          "\x01",
                                          "\xCC\x81"};
  StreamingEncoder encoder(tokenizer_);
  for (uint32_t seed = 0; seed < 300; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, atoms.size() - 1);
    std::string text;
    for (size_t n = rng() % 60; n > 0; --n) text += atoms[pick(rng)];
    const auto whole = tokenizer_->encode(text);
    for (size_t max_chunk : {1, 3, 17}) {
      ASSERT_EQ(stream_with_cuts(encoder, text, random_cuts(text.size(), max_chunk, rng)), whole)
          << "seed " << seed << " text \"" << text << "\"";
    }
  }
}

TEST_P(StreamingEncoderTest, EmptyInputGivesNoIds) {
  StreamingEncoder encoder(tokenizer_);
  EXPECT_TRUE(encoder.finish().empty());
  EXPECT_TRUE(encoder.push("").empty());
  EXPECT_TRUE(encoder.finish().empty());
  EXPECT_TRUE(encoder.at_start());
}

TEST_P(StreamingEncoderTest, SinglePushEmitsAllButTheLastWord) {
  const std::string text = read_file(data_path("text/english.txt"));
  StreamingEncoder encoder(tokenizer_);
  auto ids = encoder.push(text);
  const std::string& pending = encoder.pending_text();
  if (GetParam().whitespace_cuts) {
    // Only the text from the last whitespace run on stays pending: the final newline
    // when the normalizer turns newlines into spaces.
    const bool newline_is_space = tokenizer_->encode("a\nb") == tokenizer_->encode("a b");
    EXPECT_EQ(pending == "\n", newline_is_space) << pending;
    EXPECT_LT(pending.size(), 100u);
    EXPECT_TRUE(text.ends_with(pending));
    EXPECT_TRUE(pending.starts_with(" ") || pending.starts_with("\n")) << pending;
    EXPECT_GT(ids.size(), 1000u);
    EXPECT_FALSE(encoder.at_start());
  } else {
    EXPECT_TRUE(ids.empty());
    EXPECT_EQ(pending, text);
  }
  append(ids, encoder.finish());
  EXPECT_EQ(ids, tokenizer_->encode(text));
}

TEST_P(StreamingEncoderTest, PushLargerThanThePendingLimitIsExact) {
  if (!GetParam().whitespace_cuts) GTEST_SKIP() << "over-long pending text is cut inexactly";
  const std::string english = read_file(data_path("text/english.txt"));
  const std::string text = english + english + english + english;
  ASSERT_GT(text.size(), 2 * StreamingEncoder::kMaxPendingBytes);
  StreamingEncoder encoder(tokenizer_);
  auto ids = encoder.push(text);
  append(ids, encoder.finish());
  EXPECT_EQ(ids, tokenizer_->encode(text));
}

TEST_P(StreamingEncoderTest, FinishStartsANewDocument) {
  StreamingEncoder encoder(tokenizer_);
  const std::string first = "First document ends here.";
  const std::string second = "  second  one";
  const std::vector<size_t> cuts = {3, 9, 12};
  EXPECT_EQ(stream_with_cuts(encoder, first, cuts), tokenizer_->encode(first));
  EXPECT_TRUE(encoder.at_start());
  EXPECT_EQ(stream_with_cuts(encoder, second, cuts), tokenizer_->encode(second));
}

TEST_P(StreamingEncoderTest, RestoredEncoderContinuesExactly) {
  const std::string text = read_file(data_path("text/odd_whitespace.txt"));
  const auto whole = tokenizer_->encode(text);
  for (size_t split :
       {size_t{0}, size_t{1}, size_t{2}, size_t{5}, size_t{37}, size_t{400}, text.size() - 3}) {
    StreamingEncoder first(tokenizer_);
    auto ids = first.push(std::string_view(text).substr(0, split));

    StreamingEncoder second(tokenizer_);
    second.restore_pending(first.pending_text(), first.pending_start());
    EXPECT_EQ(second.at_start(), first.at_start());
    append(ids, second.push(std::string_view(text).substr(split)));
    append(ids, second.finish());
    EXPECT_EQ(ids, whole) << "split at " << split;
  }
  // The older form, which snapshots only at_start().
  StreamingEncoder first(tokenizer_);
  auto ids = first.push(std::string_view(text).substr(0, 200));
  StreamingEncoder second(tokenizer_);
  second.restore_pending(first.pending_text(), first.at_start());
  append(ids, second.push(std::string_view(text).substr(200)));
  append(ids, second.finish());
  EXPECT_EQ(ids, whole);
}

// Text without whitespace has no exact cut point; the pending text must still stay
// bounded, and the ids must still decode to the same text.
TEST_P(StreamingEncoderTest, PendingTextStaysBoundedWithoutWhitespace) {
  const std::string english = read_file(data_path("text/english.txt"));
  std::string letters;
  for (char c : english) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\f' && c != '\r') letters.push_back(c);
  }
  // Long runs without whitespace of ASCII, of 3- and 4-byte characters, then a tail
  // with ordinary words that must again be encoded exactly.
  std::string cjk, emoji;
  while (cjk.size() < 150000) cjk += "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C";
  while (emoji.size() < 150000) emoji += "\xF0\x9F\x98\x80\xF0\x9F\xA6\x99";
  const std::string tail = " and then some ordinary words follow.\n";
  for (const std::string& run : {letters + letters + letters + letters + letters, cjk, emoji}) {
    const std::string text = run + tail;
    StreamingEncoder encoder(tokenizer_);
    std::vector<int32_t> ids;
    size_t max_pending = 0;
    std::mt19937 rng(3);
    const auto cuts = random_cuts(text.size(), 5000, rng);
    size_t begin = 0;
    for (size_t cut : cuts) {
      append(ids, encoder.push(std::string_view(text).substr(begin, cut - begin)));
      max_pending = std::max(max_pending, encoder.pending_text().size());
      begin = cut;
    }
    append(ids, encoder.push(std::string_view(text).substr(begin)));
    max_pending = std::max(max_pending, encoder.pending_text().size());
    append(ids, encoder.finish());

    EXPECT_GT(text.size(), 2 * StreamingEncoder::kMaxPendingBytes);
    EXPECT_LE(max_pending, StreamingEncoder::kMaxPendingBytes);
    expect_same_text(tokenizer_->decode(ids), tokenizer_->decode(tokenizer_->encode(text)));
    if (!GetParam().whitespace_cuts) continue;
    // The words after the run are cut exactly again: they end the output with the
    // ids they get after any word ("x" + tail = "x", then tail, as tested above).
    const auto x_tail = tokenizer_->encode("x" + tail);
    const size_t n = x_tail.size() - tokenizer_->encode("x").size();
    ASSERT_GE(ids.size(), n);
    EXPECT_TRUE(std::equal(x_tail.end() - n, x_tail.end(), ids.end() - n));
  }
}

TEST_P(StreamingEncoderTest, ForcedCutStateSurvivesRestore) {
  std::string text;
  while (text.size() < StreamingEncoder::kMaxPendingBytes + 5000) text += "abcdefghij";
  StreamingEncoder first(tokenizer_);
  auto ids = first.push(text);
  ASSERT_EQ(first.pending_start(), StreamingEncoder::PendingStart::kInsideWord);
  StreamingEncoder second(tokenizer_);
  second.restore_pending(first.pending_text(), first.pending_start());
  append(ids, second.push("klmn opq"));
  append(ids, second.finish());
  expect_same_text(tokenizer_->decode(ids),
                   tokenizer_->decode(tokenizer_->encode(text + "klmn opq")));
  EXPECT_TRUE(tokenizer_->decode(ids).starts_with(text + "klmn opq"));
}

INSTANTIATE_TEST_SUITE_P(Models, StreamingEncoderTest, ::testing::ValuesIn(model_variants()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace infini
