// End-to-end tests of `infini eval`: the real executable on a tiny random
// model with the test tokenizer and the demo model's prompt template.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/engine/test_support.h"
#include "tests/tools/cli_run.h"

namespace infini {
namespace {

using testing::CliResult;
using testing::run_infini;

using testing::TempDir;

const std::string kTokenizer = std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model";

// A tiny random model shared by the tests of this file.
class InfiniEvalCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model_ = dir_->file("model");
    const auto r = run_infini("make-model --out " + model_ + " --seed 3 --tokenizer " + kTokenizer +
                              " --hidden 32 --layers 2 --heads 2 --kv-heads 1 --intermediate 64 "
                              "--segment 64");
    ASSERT_EQ(r.status, 0) << r.output;
    std::ofstream(model_ + "/prompt_template.json")
        << R"({"document_prefix": "<doc>", "question": "<question> {question} <answer>",)"
           R"( "summary": "<summary>", "stop": ["<end>"]})";
  }
  static void TearDownTestSuite() { delete dir_; }

  static TempDir* dir_;
  static std::string model_;
};

TempDir* InfiniEvalCliTest::dir_ = nullptr;
std::string InfiniEvalCliTest::model_;

TEST_F(InfiniEvalCliTest, PasskeyPrintsATableWithBaselines) {
  auto r = run_infini("eval passkey --model " + model_ + " --lengths 1k --trials 2", false);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"infini eval passkey: filler repeat", "dtype bf16", "2 trials", "seed 1",
                        "| length | tokens | model acc | digits in place | 0-20% |",
                        "memory-off acc | memory-off digits in place |",
                        "last-segment acc", "KV cache (bf16)", "|---:|", "\n| 1k | "}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
  // Header, separator and row have the same number of columns.
  auto bars = [&r](const std::string& starts) {
    const auto at = r.output.find(starts);
    const auto line = r.output.substr(at, r.output.find('\n', at) - at);
    return std::count(line.begin(), line.end(), '|');
  };
  EXPECT_EQ(bars("| length |"), bars("|---:|"));
  EXPECT_EQ(bars("| length |"), bars("| 1k |"));
  // Two trials at depths 0.25 and 0.75: two buckets measured, three empty.
  const auto row = r.output.substr(r.output.find("\n| 1k | ") + 1);
  EXPECT_EQ(std::count(row.begin(), row.begin() + row.find('\n'), '-'), 3) << row;

  // Progress on stderr: one line per trial, and the state / KV-cache line.
  r = run_infini("eval passkey --model " + model_ + " --lengths 1k --trials 2 --dtype f32");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s :
       {"[1k trial 1/2] depth 0.250", "[1k trial 2/2] depth 0.750", "expected '", "memory-off '",
        "last-segment '", "untrained", "full-attention bf16 KV cache"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
  // The same seed gives the same documents and answers.
  auto again =
      run_infini("eval passkey --model " + model_ + " --lengths 1k --trials 2 --dtype f32");
  auto expected = [](const std::string& out) {
    const auto at = out.find("expected '");
    return at == std::string::npos ? std::string("(none)") : out.substr(at, 80);
  };
  EXPECT_EQ(expected(r.output), expected(again.output));
}

TEST_F(InfiniEvalCliTest, SummaryWithProseAndNoBaselines) {
  const std::string prose = dir_->file("prose.txt");
  std::ofstream(prose) << "Maintainers should keep a list of the contributors.\n"
                          "Release often, and say what changed in the NEWS file.\n"
                          "Answer bug reports promptly.\n";
  const auto r = run_infini("eval summary --model " + model_ +
                                " --lengths 1024,2k --trials 1 --filler prose "
                                "--prose-file " +
                                prose + " --no-baselines --max-tokens 4 --seed 5",
                            false);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"filler prose", "seed 5", "facts in place", "\n| 1k | ", "\n| 2k | "}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
}

TEST_F(InfiniEvalCliTest, UsageErrorsNameTheFlag) {
  const std::string m = " --model " + model_;
  struct Bad {
    std::string args, message;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"eval frob" + m + " --lengths 1k", "unknown task 'frob'"},
           {"eval" + m + " --lengths 1k", "missing task"},
           {"eval passkey" + m + " --lengths 12q", "--lengths"},
           {"eval passkey" + m + " --lengths 1k,", "--lengths"},
           {"eval passkey" + m, "--lengths"},
           {"eval passkey" + m + " --lengths 1k --trials 0", "--trials"},
           {"eval passkey" + m + " --lengths 1k --filler prose", "--prose-file"},
           {"eval passkey" + m + " --lengths 1k --filler poems", "--filler"},
           {"eval passkey" + m + " --lengths 1k --dtype f16", "--dtype"},
           {"eval passkey" + m + " --lengths 1k --bogus 1", "unknown flag --bogus"},
       }) {
    const auto r = run_infini(bad.args);
    EXPECT_EQ(r.status, 2) << bad.args << "\n" << r.output;
    EXPECT_NE(r.output.find(bad.message), std::string::npos) << bad.args << "\n" << r.output;
  }
  // A model that is not there is a runtime error, with context.
  const auto r = run_infini("eval passkey --model " + dir_->file("nowhere") + " --lengths 1k");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
  EXPECT_NE(run_infini("--help").output.find("passkey|needle|summary"), std::string::npos);
}

}  // namespace
}  // namespace infini
