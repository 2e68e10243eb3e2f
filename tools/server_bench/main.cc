// infini-server-bench: ingest throughput through gRPC against the engine's
// own rate, on the same document and model, in the same run.
//
//   infini-server-bench --model DIR --server ADDR --doc FILE [--chunk-bytes N] [--repeat R]
//
// First the engine alone (this process: StreamingEncoder + Model::ingest,
// chunk by chunk, as the server does), then the server at ADDR, which must
// serve the same model directory.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "client/infini_client.h"
#include "engine/model.h"
#include "engine/tokenizer.h"

namespace {

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_dir = flag(argc, argv, "model", "");
  const std::string server = flag(argc, argv, "server", "localhost:50051");
  const std::string doc_path = flag(argc, argv, "doc", "");
  const size_t chunk = std::stoul(flag(argc, argv, "chunk-bytes", "65536"));
  const int repeat = std::stoi(flag(argc, argv, "repeat", "1"));
  if (model_dir.empty() || doc_path.empty()) {
    std::fprintf(stderr, "usage: infini-server-bench --model DIR --server ADDR --doc FILE "
                         "[--chunk-bytes N] [--repeat R]\n");
    return 2;
  }
  try {
    std::ifstream in(doc_path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + doc_path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string document;
    for (int i = 0; i < repeat; ++i) document += buffer.str();

    infini::LoadOptions options;
    auto model = infini::Model::load(model_dir, options);
    auto tokenizer = infini::Tokenizer::load(
        (std::filesystem::path(model_dir) / "tokenizer.model").string());

    // The engine alone, fed exactly as the server feeds it.
    auto engine_start = std::chrono::steady_clock::now();
    infini::SessionState state = model->new_session();
    infini::StreamingEncoder encoder(tokenizer);
    for (size_t at = 0; at < document.size(); at += chunk) {
      model->ingest(state, encoder.push(std::string_view(document).substr(at, chunk)));
    }
    model->ingest(state, encoder.finish());
    const double engine_seconds = seconds_since(engine_start);
    const int64_t tokens = state.tokens();

    infini::client::InfiniClient client(server);
    infini::client::IngestOptions ingest;
    ingest.chunk_bytes = chunk;
    auto server_start = std::chrono::steady_clock::now();
    auto response = client.ingest(std::string_view(document), ingest);
    const double server_seconds = seconds_since(server_start);
    client.delete_session(response.session().id());

    const double engine_rate = tokens / engine_seconds;
    const double server_rate = response.tokens() / server_seconds;
    std::printf("document: %zu bytes, %lld tokens, chunks of %zu bytes\n", document.size(),
                static_cast<long long>(tokens), chunk);
    std::printf("engine in-process: %.2f s = %.0f tok/s\n", engine_seconds, engine_rate);
    std::printf("server over gRPC:  %.2f s = %.0f tok/s (%lld tokens read by the server)\n",
                server_seconds, server_rate, static_cast<long long>(response.tokens()));
    std::printf("server / engine: %.3f\n", server_rate / engine_rate);
    if (response.tokens() != tokens) {
      std::fprintf(stderr, "token counts differ: engine %lld, server %lld\n",
                   static_cast<long long>(tokens), static_cast<long long>(response.tokens()));
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infini-server-bench: %s\n", e.what());
    return 1;
  }
}
