// The Hugging Face tokenizer.json path on a small hand-made file in SmolLM2's
// layout (tests/data/tokenizer/smollm2_style, made by make_smollm2_style.py):
// encoding, special tokens read as ids or as text, decoding, streaming, and a
// clear error for each kind of bad file. The real Llama 3 and Qwen3 files are
// compared with Hugging Face's JavaScript port in tokenizer_reference_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

const std::string kDir = std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/smollm2_style";

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::shared_ptr<const Tokenizer> small() {
  static const auto tokenizer = Tokenizer::load_from_model_dir(kDir);
  return tokenizer;
}

std::vector<int32_t> stream(const std::shared_ptr<const Tokenizer>& tokenizer,
                            std::string_view text, std::mt19937& rng, size_t max_chunk) {
  StreamingEncoder encoder(tokenizer);
  std::vector<int32_t> out;
  std::uniform_int_distribution<size_t> length(1, max_chunk);
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(length(rng), text.size() - pos);
    const auto ids = encoder.push(text.substr(pos, n));
    out.insert(out.end(), ids.begin(), ids.end());
    pos += n;
  }
  const auto ids = encoder.finish();
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

TEST(BpeTokenizerTest, LoadsFromAModelDirectoryWithItsConfig) {
  auto t = small();
  EXPECT_EQ(t->kind(), "bpe");
  EXPECT_EQ(t->vocab_size(), 431);
  EXPECT_EQ(t->bos_id(), 1);  // tokenizer_config.json: <|im_start|>
  EXPECT_EQ(t->eos_id(), 2);  // <|im_end|>
  EXPECT_EQ(t->token_id("<|im_end|>"), 2);
  EXPECT_EQ(t->token_id("<think>"), 430);
  EXPECT_FALSE(t->token_id("<nope>").has_value());
  EXPECT_TRUE(t->is_special(0));
  EXPECT_FALSE(t->is_special(430));  // added but not special
  EXPECT_FALSE(t->is_special(100));
  EXPECT_EQ(t->piece_to_id("\xC4\xA0the"), t->encode(" the").at(0));  // "\u0120the"
}

// Ids from tests/tokenizer_reference/encode.js (Hugging Face's JavaScript port) for
// the same file and text.
TEST(BpeTokenizerTest, MatchesTheReferenceOnDigitsSpecialsAndBytes) {
  const std::string text =
      "The quick 12345 <|im_end|> <think> caf\xC3\xA9 \xF0\x9F\x98\x80  \n\n x";
  const std::vector<int32_t> expected = {287, 392, 35,  52,  53,  54,  55,  56,  35, 2,
                                         35,  430, 35,  102, 100, 105, 198, 172, 35, 243,
                                         162, 155, 131, 394, 13,  13,  35,  123};
  EXPECT_EQ(small()->encode(text, SpecialTokens::kParse), expected);
}

TEST(BpeTokenizerTest, SpecialTokenTextIsPlainTextUnlessParsed) {
  auto t = small();
  const std::string text = "a<|im_start|>b<think>c";
  const auto parsed = t->encode(text, SpecialTokens::kParse);
  const auto as_text = t->encode(text, SpecialTokens::kAsText);
  EXPECT_NE(std::find(parsed.begin(), parsed.end(), 1), parsed.end());
  EXPECT_EQ(std::find(as_text.begin(), as_text.end(), 1), as_text.end());
  // A non-special added token is matched in both modes, as Hugging Face does.
  EXPECT_NE(std::find(as_text.begin(), as_text.end(), 430), as_text.end());
  EXPECT_EQ(t->encode(text), as_text);  // one argument: user text
  EXPECT_EQ(t->decode(as_text), text);
  // Decoding skips special tokens unless asked for them.
  EXPECT_EQ(t->decode(parsed), "ab<think>c");
  EXPECT_EQ(t->decode(parsed, /*skip_special=*/false), text);
}

TEST(BpeTokenizerTest, DecodesWhatItEncodes) {
  auto t = small();
  for (const std::string text :
       {"", "plain words", "  leading and trailing  ", "tabs\tand\r\nnewlines\n\n",
        "accents: \xC3\xA9\xC3\xA8\xC3\xAA, CJK: \xE4\xBD\xA0\xE5\xA5\xBD, emoji \xF0\x9F\x98\x80",
        "digits 0123456789 and 3.14"}) {
    EXPECT_EQ(t->decode(t->encode(text)), text);
  }
}

TEST(BpeTokenizerTest, BytesThatAreNotUtf8AreReadAsReplacementCharacters) {
  auto t = small();
  EXPECT_EQ(t->encode("a\xFF"
                      "b"),
            t->encode("a\xEF\xBF\xBD"
                      "b"));
  EXPECT_EQ(t->decode(t->encode("a\xC3(")), "a\xEF\xBF\xBD(");
}

TEST(BpeTokenizerTest, PieceTextIsRawBytesAndDecodeHoldsPartialCharactersAsOneReplacement) {
  auto t = small();
  const auto ids = t->encode("\xF0\x9F\x98\x80");  // one emoji: four byte tokens
  ASSERT_EQ(ids.size(), 4u);
  std::string bytes;
  for (int32_t id : ids) bytes += t->piece_text(id);
  EXPECT_EQ(bytes, "\xF0\x9F\x98\x80");
  // What the generator sees after each token: one trailing U+FFFD until complete.
  for (size_t n = 1; n < 4; ++n) {
    EXPECT_EQ(t->decode(std::vector<int32_t>(ids.begin(), ids.begin() + n)), "\xEF\xBF\xBD") << n;
  }
  EXPECT_EQ(t->piece_text(1), "");  // special
  EXPECT_THROW(t->decode({431}), EngineError);
  EXPECT_THROW(t->piece_text(-1), EngineError);
}

TEST(BpeTokenizerTest, StreamingGivesWholeTextIdsForAnyChunking) {
  auto t = small();
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text +=
        "The quick brown fox 12345 jumps; caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 "
        "<think>x</think> <|im_end|>   \n\n\t it's 3.14!! ";
  }
  const auto whole = t->encode(text);
  std::mt19937 rng(7);
  for (size_t max_chunk : {1, 2, 3, 7, 64, 1000}) {
    EXPECT_EQ(stream(t, text, rng, max_chunk), whole) << "chunks up to " << max_chunk;
  }
}

TEST(BpeTokenizerTest, PushTemplateReadsSpecialTokensAsIdsAndJoinsTextLikePush) {
  auto t = small();
  StreamingEncoder encoder(t);
  std::vector<int32_t> out;
  auto add = [&](const std::vector<int32_t>& ids) {
    out.insert(out.end(), ids.begin(), ids.end());
  };
  add(encoder.push_template("<|im_start|>user\n"));
  add(encoder.push("What is <|im_end|> in 12"));
  add(encoder.push("34?"));
  add(encoder.push_template("<|im_end|>\n<|im_start|>assistant\n"));
  add(encoder.finish());
  std::vector<int32_t> expected = {1};
  auto extend = [&](const std::vector<int32_t>& ids) {
    expected.insert(expected.end(), ids.begin(), ids.end());
  };
  extend(t->encode("user\nWhat is <|im_end|> in 1234?", SpecialTokens::kAsText));
  expected.push_back(2);
  extend(t->encode("\n"));
  expected.push_back(1);
  extend(t->encode("assistant\n"));
  EXPECT_EQ(out, expected);
}

TEST(BpeTokenizerTest, PendingTextSurvivesASnapshotRestore) {
  auto t = small();
  const std::string text = "The quick brown fox jumps over the lazy dog 123 times.";
  StreamingEncoder first(t);
  auto ids = first.push(text.substr(0, 23));
  StreamingEncoder second(t);
  second.restore_pending(first.pending_text(), first.pending_start());
  auto rest = second.push(text.substr(23));
  ids.insert(ids.end(), rest.begin(), rest.end());
  rest = second.finish();
  ids.insert(ids.end(), rest.begin(), rest.end());
  EXPECT_EQ(ids, t->encode(text));
}

// One pre-token longer than StreamingEncoder::kMaxPendingBytes is cut by force:
// pending text stays bounded and the ids still decode to the text.
TEST(BpeTokenizerTest, OverlongPreTokenIsForcedOutWithPendingTextBounded) {
  auto t = small();
  const std::string text = std::string(150 * 1024, 'e') + " the end";
  StreamingEncoder encoder(t);
  std::vector<int32_t> ids;
  for (size_t pos = 0; pos < text.size(); pos += 1000) {
    const auto part = encoder.push(std::string_view(text).substr(pos, 1000));
    ids.insert(ids.end(), part.begin(), part.end());
    EXPECT_LE(encoder.pending_text().size(), StreamingEncoder::kMaxPendingBytes);
  }
  const auto rest = encoder.finish();
  ids.insert(ids.end(), rest.begin(), rest.end());
  EXPECT_EQ(t->decode(ids), text);
}

// Split with behavior Removed drops its matches (delimiters); Isolated keeps them.
TEST(BpeTokenizerTest, SplitRemovedDropsTheDelimiters) {
  testing::TempDir dir;
  auto json = nlohmann::json::parse(read_file(kDir + "/tokenizer.json"));
  for (const std::string behavior : {"Removed", "Isolated"}) {
    json["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"String", ","}}}, {"behavior", behavior}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    write_file(dir.file("tokenizer.json"), json.dump());
    auto t = Tokenizer::load(dir.file("tokenizer.json"));
    std::vector<int32_t> expected = t->encode("ab");
    if (behavior == "Isolated") expected.push_back(t->piece_to_id(","));
    const auto cd = t->encode("cd");
    expected.insert(expected.end(), cd.begin(), cd.end());
    EXPECT_EQ(t->encode("ab,cd"), expected) << behavior;
    std::mt19937 rng(3);
    EXPECT_EQ(stream(t, "ab,cd,,e f,g", rng, 2), t->encode("ab,cd,,e f,g")) << behavior;
  }
}

// ---- bad files: each error names the file and the key ----

struct BadFile {
  std::string name;
  std::string expected_key;  // in the message
  std::function<void(nlohmann::json&)> edit;
  std::string raw;  // instead of an edit: these bytes
};

void PrintTo(const BadFile& b, std::ostream* os) { *os << b.name; }

class BadTokenizerJsonTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadTokenizerJsonTest, IsRejectedNamingTheFileAndKey) {
  const BadFile& bad = GetParam();
  testing::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  if (!bad.raw.empty()) {
    write_file(path, bad.raw);
  } else {
    auto json = nlohmann::json::parse(read_file(kDir + "/tokenizer.json"));
    bad.edit(json);
    write_file(path, json.dump());
  }
  try {
    Tokenizer::load(path);
    FAIL() << "accepted " << bad.name;
  } catch (const EngineError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(bad.expected_key), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, BadTokenizerJsonTest,
    ::testing::Values(BadFile{"truncated", "not valid JSON", nullptr,
                              read_file(kDir + "/tokenizer.json").substr(0, 3000)},
                      BadFile{"merge_token_missing", "model.merges[5]",
                              [](nlohmann::json& j) { j["model"]["merges"][5] = "Qx Zy"; }},
                      BadFile{"merge_malformed", "model.merges[2]",
                              [](nlohmann::json& j) { j["model"]["merges"][2] = "nospace"; }},
                      BadFile{"merged_token_missing", "merged token",
                              [](nlohmann::json& j) { j["model"]["vocab"].erase("\xC4\xA0t"); }},
                      BadFile{"vocab_id_twice", "model.vocab",
                              [](nlohmann::json& j) { j["model"]["vocab"]["zz"] = 5; }},
                      BadFile{"vocab_id_negative", "model.vocab[\"zz\"]",
                              [](nlohmann::json& j) { j["model"]["vocab"]["zz"] = -4; }},
                      BadFile{"added_token_lies_about_its_id", "added_tokens[3].id",
                              [](nlohmann::json& j) { j["added_tokens"][3]["id"] = 100; }},
                      BadFile{"unknown_model", "model.type",
                              [](nlohmann::json& j) { j["model"]["type"] = "Unigram"; }},
                      BadFile{"no_model", "model", [](nlohmann::json& j) { j.erase("model"); }},
                      BadFile{"unknown_pre_tokenizer", "pre_tokenizer.pretokenizers[1].type",
                              [](nlohmann::json& j) {
                                j["pre_tokenizer"]["pretokenizers"][1]["type"] = "Whitespace";
                              }},
                      BadFile{"unknown_normalizer", "normalizer.type",
                              [](nlohmann::json& j) {
                                j["normalizer"] = {{"type", "Precompiled"}};
                              }},
                      BadFile{"unknown_decoder", "decoder.type",
                              [](nlohmann::json& j) {
                                j["decoder"] = {{"type", "WordPiece"}};
                              }},
                      BadFile{"bad_regex", "pre_tokenizer.pretokenizers[0].pattern",
                              [](nlohmann::json& j) {
                                j["pre_tokenizer"]["pretokenizers"][0] = {
                                    {"type", "Split"},
                                    {"pattern", {{"Regex", "(\\p{L}+"}}},
                                    {"behavior", "Isolated"}};
                              }},
                      BadFile{"unknown_split_behavior", "pre_tokenizer.pretokenizers[0].behavior",
                              [](nlohmann::json& j) {
                                j["pre_tokenizer"]["pretokenizers"][0] = {
                                    {"type", "Split"},
                                    {"pattern", {{"Regex", "a"}}},
                                    {"behavior", "Contiguous"}};
                              }},
                      BadFile{"unk_token_not_in_vocab", "model.unk_token",
                              [](nlohmann::json& j) { j["model"]["unk_token"] = "<unk>"; }}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return info.param.name; });

TEST(BadTokenizerConfigTest, UnknownEosTokenIsRejectedNamingTheFileAndKey) {
  testing::TempDir dir;
  std::filesystem::copy_file(kDir + "/tokenizer.json", dir.file("tokenizer.json"));
  write_file(dir.file("tokenizer_config.json"), R"({"eos_token": "<|no_such|>"})");
  try {
    Tokenizer::load_from_model_dir(dir.path());
    FAIL() << "accepted an eos_token that is no token";
  } catch (const EngineError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dir.file("tokenizer_config.json")), std::string::npos) << message;
    EXPECT_NE(message.find("eos_token"), std::string::npos) << message;
  }
}

// A tokenizer.json this build does not support (a Metaspace pre-tokenizer, as Llama 2
// and Mistral ship) gives way to the tokenizer.model beside it; a broken one does not.
TEST(BadTokenizerConfigTest, UnsupportedTokenizerJsonFallsBackToTokenizerModel) {
  testing::TempDir dir;
  auto json = nlohmann::json::parse(read_file(kDir + "/tokenizer.json"));
  json["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}};
  write_file(dir.file("tokenizer.json"), json.dump());
  std::filesystem::copy_file(std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model",
                             dir.file("tokenizer.model"));
  EXPECT_EQ(Tokenizer::load_from_model_dir(dir.path())->kind(), "sentencepiece");
  EXPECT_THROW(Tokenizer::load(dir.file("tokenizer.json")), EngineError);
  write_file(dir.file("tokenizer.json"), "{\"model\": ");
  EXPECT_THROW(Tokenizer::load_from_model_dir(dir.path()), EngineError);
}

TEST(BadTokenizerConfigTest, ModelDirectoryWithoutTokenizerIsNotFound) {
  testing::TempDir dir;
  try {
    Tokenizer::load_from_model_dir(dir.path());
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(dir.path()), std::string::npos);
  }
}

}  // namespace
}  // namespace infini
