// `--backend cpu|cuda` of the `infini` subcommands that load a model (run,
// logits, bench, eval), through the real binary. Where this build or
// machine has no usable GPU, asking for cuda must stop at once with exit 1
// and one line that says why; where it has one, bench reports the cuBLAS
// peak of that GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine/cuda/cuda_backend.h"
#include "tests/engine/test_support.h"
#include "tests/tools/cli_run.h"

namespace infini {
namespace {

using testing::CliResult;
using testing::run_infini;

const std::string kGolden = std::string(INFINI_TEST_DATA_DIR) + "/golden/delta_gqa_untied_f32";
const std::string kDemo = std::string(INFINI_SOURCE_DIR) + "/models/demo";

// Why cuda cannot run here, or "" where it can.
std::string no_gpu_reason() {
  std::string reason;
  return cuda::device_available(&reason) ? "" : reason;
}

// (No "cuda" in this name: scripts/gpu-check runs every test named so and
// requires none to skip, and this one skips where there is a GPU.)
TEST(InfiniBackendFlag, WithoutAGpuItExitsWithOneLineSayingWhy) {
  const std::string reason = no_gpu_reason();
  if (reason.empty()) GTEST_SKIP() << "a CUDA device is present: this is the GPU-less path";
  ASSERT_NE(reason.find_first_not_of(' '), std::string::npos);
  const std::string commands[] = {
      "bench --backend cuda --shape tiny",
      "bench --shape tiny --tokens 64 --gemm-seconds 0.01 --backend=cuda",
      "logits --backend cuda --model " + kGolden + " --ids-file " + kGolden +
          "/ids.txt --out /dev/null",
      "run --backend cuda --model " + kDemo + " --doc " + kDemo + "/README.md --question hi",
      "eval passkey --backend cuda --model " + kDemo + " --lengths 1k --trials 1",
  };
  for (const std::string& command : commands) {
    SCOPED_TRACE(command);
    const CliResult r = run_infini(command);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "not one line:\n"
                                                                     << r.output;
    EXPECT_NE(r.output.find("--backend cuda: " + reason), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("GFLOP"), std::string::npos) << "work was done first:\n" << r.output;
  }
}

TEST(InfiniBackendFlag, UnknownBackendIsAUsageErrorNamingBoth) {
  const std::string commands[] = {"bench --shape tiny --backend tpu",
                                  "logits --backend tpu --model " + kGolden + " --ids-file " +
                                      kGolden + "/ids.txt --out /dev/null"};
  for (const std::string& command : commands) {
    SCOPED_TRACE(command);
    const CliResult r = run_infini(command);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--backend must be cpu or cuda, got 'tpu'"), std::string::npos)
        << r.output;
  }
}

TEST(InfiniBackendFlag, CpuIsTheDefaultAndCanBeNamed) {
  for (const std::string flag : {std::string(), std::string(" --backend cpu")}) {
    SCOPED_TRACE("flag '" + flag + "'");
    const CliResult r =
        run_infini("bench --shape tiny --tokens 256 --decode-tokens 2 --gemm-seconds 0.02" + flag);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("on cpu"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("oneDNN bf16 GEMM"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("cuBLAS"), std::string::npos) << r.output;
  }
}

TEST(InfiniBackendFlag, BenchOnCudaMeasuresTheCublasPeakOfTheSameGpu) {
  const std::string reason = no_gpu_reason();
  if (!reason.empty()) GTEST_SKIP() << "CUDA backend not available: " << reason;
  const CliResult r = run_infini(
      "bench --backend cuda --shape tiny --tokens 4096 --decode-tokens 4 --gemm-seconds 0.2");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"on cuda", "device: ", "cuBLAS bf16 GEMM", "peak",
                        "ingest:", "of the GEMM peak", "decode:", "state:"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
  EXPECT_EQ(r.output.find("oneDNN"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(cuda::device_description()), std::string::npos) << r.output;
}

TEST(InfiniBackendFlag, HelpDocumentsIt) {
  const CliResult r = run_infini("--help");
  ASSERT_EQ(r.status, 0);
  // run, logits, bench and eval each list it.
  size_t count = 0;
  for (size_t at = r.output.find("[--backend cpu|cuda]"); at != std::string::npos;
       at = r.output.find("[--backend cpu|cuda]", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 4u) << r.output;
}

}  // namespace
}  // namespace infini
