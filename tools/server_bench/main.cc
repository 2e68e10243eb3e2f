// infini-server-bench: ingest throughput through gRPC against the engine's
// own rate, on the same document and model, in the same run.
//
//   infini-server-bench --model DIR --server ADDR --doc FILE [--chunk-bytes N]
//                       [--repeat R] [--rounds N]
//
// Each round runs the engine alone (this process: DocumentReader,
// chunk by chunk, as the server does), then the server at
// ADDR, which must serve the same model directory. --repeat R concatenates
// the document R times; --rounds N (default 3) repeats the pair.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client/infini_client.h"
#include "engine/document_reader.h"
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
  const int rounds = std::stoi(flag(argc, argv, "rounds", "3"));
  if (model_dir.empty() || doc_path.empty() || rounds < 1 || repeat < 1) {
    std::fprintf(stderr, "usage: infini-server-bench --model DIR --server ADDR --doc FILE "
                         "[--chunk-bytes N] [--repeat R] [--rounds N]\n");
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
    auto tokenizer = infini::Tokenizer::load_from_model_dir(model_dir);

    infini::client::InfiniClient client(server);
    infini::client::IngestOptions ingest;
    ingest.chunk_bytes = chunk;

    // The engine alone, fed exactly as the server feeds it: the same
    // DocumentReader (whole segments folded, the last partial one pending).
    auto run_engine = [&](int64_t& tokens) {
      const auto start = std::chrono::steady_clock::now();
      infini::DocumentReader reader(tokenizer, model->new_session());
      for (size_t at = 0; at < document.size(); at += chunk) {
        reader.read_text(*model, std::string_view(document).substr(at, chunk), false);
      }
      reader.flush(*model);
      tokens = reader.tokens();
      return seconds_since(start);
    };
    auto run_server = [&](int64_t& tokens) {
      const auto start = std::chrono::steady_clock::now();
      auto response = client.ingest(std::string_view(document), ingest);
      const double seconds = seconds_since(start);
      client.delete_session(response.session().id());
      tokens = response.tokens();
      return seconds;
    };

    // Rounds alternate engine and server, so that drift in the machine's
    // speed (other processes, clocks) falls on both alike; the median ratio
    // is the figure.
    std::printf("document: %zu bytes, chunks of %zu bytes, %d round(s)\n", document.size(),
                chunk, rounds);
    std::vector<double> ratios;
    for (int round = 1; round <= rounds; ++round) {
      int64_t engine_tokens = 0;
      int64_t server_tokens = 0;
      const double engine_seconds = run_engine(engine_tokens);
      const double server_seconds = run_server(server_tokens);
      if (server_tokens != engine_tokens) {
        std::fprintf(stderr, "token counts differ: engine %lld, server %lld\n",
                     static_cast<long long>(engine_tokens),
                     static_cast<long long>(server_tokens));
        return 1;
      }
      const double engine_rate = engine_tokens / engine_seconds;
      const double server_rate = server_tokens / server_seconds;
      ratios.push_back(server_rate / engine_rate);
      std::printf("round %d: %lld tokens; engine in-process %.2f s = %.0f tok/s; "
                  "server over gRPC %.2f s = %.0f tok/s; server / engine %.3f\n",
                  round, static_cast<long long>(engine_tokens), engine_seconds, engine_rate,
                  server_seconds, server_rate, ratios.back());
      std::fflush(stdout);
    }
    std::vector<double> sorted = ratios;
    std::sort(sorted.begin(), sorted.end());
    std::printf("server / engine: median %.3f (min %.3f, max %.3f)\n", sorted[sorted.size() / 2],
                sorted.front(), sorted.back());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infini-server-bench: %s\n", e.what());
    return 1;
  }
}
