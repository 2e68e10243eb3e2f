// infini run: streams a document through the compressive memory with a
// progress line on stderr, then answers a question or writes a summary.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/document_reader.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "engine/human_bytes.h"
#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "tools/infini/commands.h"
#include "tools/infini/flags.h"

namespace infini::tool {

namespace {

class Progress {
 public:
  Progress(int64_t total_bytes, bool enabled) : total_(total_bytes), enabled_(enabled) {}
  void update(int64_t bytes_read, int64_t tokens, int64_t state_bytes, bool final = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double frac = total_ > 0 ? static_cast<double>(bytes_read) / total_ : 1.0;
    const int width = 30, filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%%  %lld tokens  %.0f tok/s  memory %s   ",
                 std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
                 frac * 100.0, static_cast<long long>(tokens), secs > 0 ? tokens / secs : 0.0,
                 human_bytes(static_cast<double>(state_bytes)).c_str());
    if (final) std::fputc('\n', stderr);
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int run_command(const std::vector<std::string>& args) {
  Flags flags(args, {"summarize", "no-progress"});
  flags.allow_only({"model", "doc", "question", "summarize", "max-tokens", "temperature", "top-k",
                    "top-p", "seed", "dtype", "chunk-bytes", "gate", "no-progress", "backend",
                    "segment-size", "system-prompt"});
  const std::string dir = flags.required("model");
  const std::string doc_path = flags.required("doc");
  const bool summarize = flags.has("summarize");
  if (summarize == flags.has("question")) {
    throw std::invalid_argument("give exactly one of --question TEXT or --summarize");
  }
  GenerationRequest request;
  request.max_tokens = static_cast<int32_t>(flags.integer("max-tokens", summarize ? 128 : 32));
  request.sampling.temperature = static_cast<float>(flags.number("temperature", 0.0));
  request.sampling.top_k = static_cast<int32_t>(flags.integer("top-k", 0));
  request.sampling.top_p = static_cast<float>(flags.number("top-p", 1.0));
  request.sampling.seed = static_cast<uint64_t>(flags.integer("seed", 0));
  request.sampling.validate();
  const int64_t chunk_bytes = flags.integer("chunk-bytes", 4096);
  if (chunk_bytes < 1) throw std::invalid_argument("--chunk-bytes must be >= 1");

  LoadOptions options;
  options.dtype = parse_compute_dtype(flags.str("dtype", "bf16"));
  options.backend = flags.backend();
  if (flags.has("gate")) options.gate = static_cast<float>(flags.number("gate", 0.5));
  options.segment_size = flags.segment_size();
  auto model = Model::load(dir, options);
  auto tokenizer = Tokenizer::load_from_model_dir(dir);
  const PromptTemplate prompt = PromptTemplate::load(
      dir, tokenizer.get(),
      flags.has("system-prompt") ? std::optional<std::string>(flags.str("system-prompt", ""))
                                 : std::nullopt);
  const ModelConfig& config = model->config();
  if (std::filesystem::exists(std::filesystem::path(dir) / "UNTRAINED")) {
    std::fprintf(stderr,
                 "note: %s holds random, untrained weights: what it prints is noise. This run "
                 "shows the data path (streaming, segments, compressive memory), not answers.\n",
                 dir.c_str());
  }

  std::ifstream doc(doc_path, std::ios::binary);
  if (!doc) throw EngineError(ErrorCode::kNotFound, "cannot open document '" + doc_path + "'");
  const int64_t doc_bytes = static_cast<int64_t>(std::filesystem::file_size(doc_path));
  if (doc_bytes == 0) {
    throw EngineError(ErrorCode::kInvalidArgument, "document '" + doc_path + "' is empty");
  }
  // A checkpoint without memory_gate tensors runs memory off by default: say so, or a
  // user reads "segment 2048" and expects recall from earlier segments.
  std::fprintf(stderr,
               "model %s: %lld layers, segment %lld tokens, %s, %s backend; state per session %s\n",
               dir.c_str(), static_cast<long long>(config.num_layers),
               static_cast<long long>(config.segment_size),
               model->memory_enabled() ? "memory on"
                                       : "memory off (no memory_gate: each segment alone)",
               model->backend().name().c_str(),
               human_bytes(static_cast<double>(model->new_session().state_bytes())).c_str());

  // The server's path (engine/document_reader.h): whole segments into the
  // state, the question's tail on a fork; so this answer is the server's.
  DocumentReader document(tokenizer, model->new_session());
  document.start(*model, prompt.document_prefix_pieces());
  Progress progress(doc_bytes, !flags.has("no-progress"));
  std::string chunk(static_cast<size_t>(chunk_bytes), '\0');
  int64_t read = 0;
  try {
    while (doc) {
      doc.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      const auto got = doc.gcount();
      if (got <= 0) break;
      read += got;
      document.read_text(*model, std::string_view(chunk.data(), static_cast<size_t>(got)), false);
      progress.update(read, document.tokens(), document.state().state_bytes());
    }
    if (!document.utf8().complete()) {
      throw EngineError(ErrorCode::kInvalidArgument, "the text ends inside a UTF-8 character");
    }
  } catch (const EngineError& e) {
    throw EngineError(e.code(), "document '" + doc_path + "': " + e.what());
  }
  DocumentReader::Question question = document.question(
      *model, prompt,
      summarize ? prompt.summary_pieces() : prompt.question_pieces(flags.str("question", "")));
  const SessionState& state = question.state;
  progress.update(read, state.tokens(), state.state_bytes(), true);
  const double ingest_seconds = progress.seconds();
  if (state.tokens() == 0 && !prompt.from_chat_template) {
    throw EngineError(ErrorCode::kInvalidArgument, "document '" + doc_path + "' has no tokens");
  }
  const int64_t tokens = state.tokens(), segments = state.segments();
  const int64_t state_bytes = state.state_bytes(), memory_bytes = state.memory_bytes(),
                window_bytes = state.window_bytes();

  request.prompt = std::move(question.prompt_ids);
  request.stop = prompt.stop;
  request.stop_ids = prompt.stop_ids;
  auto result = generate(*model, *tokenizer, question.state, request, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);

  const int64_t kv = config.kv_cache_bytes(tokens, 2);
  std::fprintf(stderr,
               "read %lld tokens (%lld segments folded) in %.2f s (%.0f tok/s); state %s "
               "(memory %s + window %s); full-attention bf16 KV cache would be %s: %.1fx\n"
               "generated %lld tokens (%s) in %.2f s, first token after %.3f s\n",
               static_cast<long long>(tokens), static_cast<long long>(segments), ingest_seconds,
               tokens / ingest_seconds, human_bytes(static_cast<double>(state_bytes)).c_str(),
               human_bytes(static_cast<double>(memory_bytes)).c_str(),
               human_bytes(static_cast<double>(window_bytes)).c_str(),
               human_bytes(static_cast<double>(kv)).c_str(),
               static_cast<double>(kv) / static_cast<double>(state_bytes),
               static_cast<long long>(result.generated_tokens), finish_reason_name(result.finish),
               result.total_seconds, result.first_token_seconds);
  return 0;
}

}  // namespace infini::tool
