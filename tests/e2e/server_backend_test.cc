// infini-server --backend: without a usable GPU, cuda stops the server at
// start with exit 1 and the reason; with one, a server on the GPU answers
// like a server on the CPU. Each test skips itself, by name, on the machine
// where its path cannot be taken.
#include "engine/cuda/cuda_backend.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

// Why cuda cannot run here, or "" where it can.
std::string no_gpu_reason() {
  std::string reason;
  return cuda::device_available(&reason) ? "" : reason;
}

// (No "cuda" in this name: scripts/gpu-check runs every test named so and
// requires none to skip, and this one skips where there is a GPU.)
TEST(ServerBackendFlag, WithoutAGpuTheGpuBackendStopsTheServerSayingWhy) {
  const std::string reason = no_gpu_reason();
  if (reason.empty()) GTEST_SKIP() << "a CUDA device is present: this is the GPU-less path";
  const std::string server = server_binary(), model = test_model_dir();
  const std::vector<std::vector<std::string>> commands = {
      {server, "--model", model, "--backend", "cuda", "--listen", "127.0.0.1:0", "--metrics-listen",
       "127.0.0.1:0"},
      {"/usr/bin/env", "INFINI_BACKEND=cuda", server, "--model", model, "--listen", "127.0.0.1:0",
       "--metrics-listen", ""},
  };
  for (const auto& argv : commands) {
    SCOPED_TRACE(argv[0] == server ? "--backend cuda" : "INFINI_BACKEND=cuda");
    const CommandResult r = run_command(argv, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    // One line says it, with the reason device_available gives.
    size_t lines_with_reason = 0;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(reason) != std::string::npos) {
        ++lines_with_reason;
        EXPECT_NE(line.find("cannot start"), std::string::npos) << line;
        EXPECT_NE(line.find("cuda"), std::string::npos) << line;
      }
    }
    EXPECT_EQ(lines_with_reason, 1u) << r.output;
    EXPECT_EQ(r.output.find("listening on"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
  }
}

// Greedy answers of a document through a server on the GPU and one on the
// CPU, fp32 on both (the path the design bounds at 1e-4).
TEST(ServerBackendFlag, CudaServerAnswersLikeTheCpuServer) {
  const std::string reason = no_gpu_reason();
  if (!reason.empty()) GTEST_SKIP() << "CUDA backend not available: " << reason;
  auto cpu = ServerProcess::start({"--backend", "cpu", "--dtype", "f32"});
  auto gpu = ServerProcess::start({"--backend", "cuda", "--dtype", "f32"});
  EXPECT_NE(gpu->log().find("backend cuda"), std::string::npos) << gpu->log();
  const std::string document = make_document(6000);  // several segments of the test model
  std::vector<std::string> answers;
  for (ServerProcess* server : {cpu.get(), gpu.get()}) {
    auto stub = new_stub(*server);
    const IngestCall ingest = ingest_raw(*stub, text_messages("", {document}, /*flush=*/true));
    ASSERT_TRUE(ingest.status.ok()) << describe(ingest.status);
    EXPECT_GT(ingest.response.segments(), 2);
    const Generation g =
        ask_raw(*stub, ingest.response.session().id(), "What is it about?", greedy_params(12));
    ASSERT_TRUE(g.status.ok()) << describe(g.status);
    answers.push_back(g.text);
  }
  EXPECT_EQ(answers[1], answers[0]) << "GPU answer against the CPU's";
}

}  // namespace
}  // namespace infini::e2e
