// End-to-end tests of the `infini` binary: each starts the real executable
// in a temporary directory and checks its files, output and exit status.
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

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

const std::string kTokenizer = std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model";
const std::string kGolden = std::string(INFINI_TEST_DATA_DIR) + "/golden/delta_gqa_untied_f32";

TEST(InfiniCliTest, LogitsMatchGoldenWholeAndChunked) {
  TempDir dir;
  const auto expected = testing::read_f32(kGolden + "/logits.f32");
  for (const std::string chunk : {"", " --chunk 1", " --chunk 5"}) {
    auto r = run_infini("logits --model " + kGolden + " --ids-file " + kGolden + "/ids.txt --out " +
                        dir.file("out.f32") + chunk);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_LT(testing::relative_error(testing::read_f32(dir.file("out.f32")), expected), 1e-4)
        << "chunk flag '" << chunk << "'";
  }
}

TEST(InfiniCliTest, LogitsRejectsBadIds) {
  TempDir dir;
  write_file(dir.file("bad.txt"), "1 2 three 4");
  auto r = run_infini("logits --model " + kGolden + " --ids-file " + dir.file("bad.txt") +
                      " --out " + dir.file("o"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("'three' at position 2"), std::string::npos) << r.output;

  write_file(dir.file("range.txt"), "1 2 100000");
  r = run_infini("logits --model " + kGolden + " --ids-file " + dir.file("range.txt") + " --out " +
                 dir.file("o"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("outside the vocabulary"), std::string::npos) << r.output;

  write_file(dir.file("empty.txt"), "  \n");
  r = run_infini("logits --model " + kGolden + " --ids-file " + dir.file("empty.txt") + " --out " +
                 dir.file("o"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no token ids"), std::string::npos) << r.output;
}

TEST(InfiniCliTest, MakeModelThenRunStreamsADocument) {
  TempDir dir;
  const std::string model = dir.file("model");
  auto r =
      run_infini("make-model --out " + model + " --seed 3 --tokenizer " + kTokenizer +
                 " --hidden 32 --layers 2 --heads 2 --kv-heads 1 --intermediate 64 --segment 32"
                 " --update delta --dtype bf16");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "UNTRAINED"}) {
    EXPECT_TRUE(std::filesystem::exists(model + "/" + f)) << f;
  }
  std::string doc;
  for (int i = 0; i < 200; ++i) doc += "The grass is green. The sky is blue. Here we go. ";
  write_file(dir.file("doc.txt"), doc);
  r = run_infini(
      "run --model " + model + " --doc " + dir.file("doc.txt") +
      " --question 'What colour is the sky?' --max-tokens 5 --chunk-bytes 7 --no-progress");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("untrained"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("segments folded"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("KV cache"), std::string::npos) << r.output;

  // The same tokens and the same greedy text, whatever the chunking of the document.
  auto answer = [&](const std::string& chunk, bool with_stderr) {
    auto out = run_infini(
        "run --model " + model + " --doc " + dir.file("doc.txt") +
            " --summarize --max-tokens 6 --dtype f32 --no-progress --chunk-bytes " + chunk,
        with_stderr);
    EXPECT_EQ(out.status, 0) << out.output;
    if (!with_stderr) return out.output;
    const auto at = out.output.find("read ");
    return out.output.substr(at, out.output.find(" in ", at) - at);
  };
  EXPECT_EQ(answer("3", true), answer("100000", true));
  EXPECT_NE(answer("3", true).find("segments folded"), std::string::npos);
  EXPECT_EQ(answer("3", false), answer("100000", false));
}

TEST(InfiniCliTest, RunRejectsBadDocuments) {
  TempDir dir;
  const std::string model = dir.file("model");
  ASSERT_EQ(run_infini("make-model --out " + model + " --tokenizer " + kTokenizer +
                       " --hidden 16 --layers 1 --heads 2 --intermediate 16 --segment 8")
                .status,
            0);
  write_file(dir.file("empty.txt"), "");
  auto r =
      run_infini("run --model " + model + " --doc " + dir.file("empty.txt") + " --question hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is empty"), std::string::npos) << r.output;
  r = run_infini("run --model " + model + " --doc " + dir.file("missing.txt") + " --question hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("cannot open document"), std::string::npos) << r.output;
  r = run_infini("run --model " + model + " --doc " + dir.file("empty.txt"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--question"), std::string::npos) << r.output;
  r = run_infini("run --model " + dir.file("nowhere") + " --doc x --question hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
  // Text the server would refuse (engine/document_reader.h) is refused here
  // too, naming the file and the byte; small chunks cut the characters.
  write_file(dir.file("latin1.txt"), "The grass is green. Caf\xe9 au lait.");
  r = run_infini("run --model " + model + " --doc " + dir.file("latin1.txt") +
                 " --question hi --chunk-bytes 3 --no-progress");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("document '" + dir.file("latin1.txt") + "': invalid UTF-8 at byte offset 24"),
            std::string::npos)
      << r.output;
  write_file(dir.file("cut.txt"), "The grass is green. Caf\xc3");
  r = run_infini("run --model " + model + " --doc " + dir.file("cut.txt") + " --question hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("ends inside a UTF-8 character"), std::string::npos) << r.output;
}

TEST(InfiniCliTest, BenchPrintsFiguresAndRatio) {
  auto r = run_infini("bench --shape tiny --tokens 1024 --decode-tokens 4 --gemm-seconds 0.05");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"peak", "ingest:", "of the GEMM peak", "decode:", "state:", "RSS:"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
}

TEST(InfiniCliTest, BenchDecodesBatchesAgainstTheSingleStreamAndTheBound) {
  auto r = run_infini("bench --shape tiny --tokens 256 --decode-tokens 4 --gemm-seconds 0.05 "
                      "--batch 1,3");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"memory read", "single-stream bound", "decode batch   1:",
                        "decode batch   3:", "tok/s aggregate", "x the single stream"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
}

TEST(InfiniCliTest, BenchRefusesBadBatchSizes) {
  for (const char* bad : {"0", "4,x", "1,,2", "-3", "5000", "2,"}) {
    auto r = run_infini(std::string("bench --shape tiny --tokens 64 --decode-tokens 2 --batch '") +
                        bad + "'");
    EXPECT_EQ(r.status, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("--batch takes sizes"), std::string::npos) << bad << "\n" << r.output;
  }
  auto r = run_infini("bench --shape tiny --tokens 64 --decode-tokens 0 --batch 4");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--batch needs --decode-tokens"), std::string::npos) << r.output;
}

TEST(InfiniCliTest, UsageErrors) {
  EXPECT_EQ(run_infini("frobnicate").status, 2);
  EXPECT_EQ(run_infini("bench --shape tiny --bogus 1").status, 2);
  EXPECT_EQ(run_infini("bench --shape nonsense").status, 2);
  auto r = run_infini("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("make-model"), std::string::npos);
}

}  // namespace
}  // namespace infini
