// infini bench: ingest and decode throughput of the engine, state bytes and
// RSS along the way, against the peak of a plain bf16 GEMM measured in the
// same run on the same device: oneDNN's on the CPU, cuBLAS's on a GPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>

#include "engine/checkpoint_writer.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tools/infini/bench_shapes.h"
#include "tools/infini/commands.h"
#include "tools/infini/eval_tasks.h"
#include "tools/infini/flags.h"
#include "tools/infini/gemm_peak.h"
#include "tools/infini/memory_bandwidth.h"

namespace infini::tool {

namespace {

// Resident and peak resident set size of this process, from /proc.
struct Rss {
  double current_mib = 0, peak_mib = 0;
};

Rss read_rss() {
  Rss r;
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    double kib = 0;
    if (key == "VmRSS:" && in >> kib) r.current_mib = kib / 1024.0;
    if (key == "VmHWM:" && in >> kib) r.peak_mib = kib / 1024.0;
  }
  return r;
}

// Useful floating-point work per ingested token (the causal half of local
// attention, not what a blocked kernel happens to compute).
double flops_per_token(const ModelConfig& c) {
  const double hidden = static_cast<double>(c.hidden_size);
  const double linear = hidden * (c.q_size() + 2.0 * c.kv_size()) + c.q_size() * hidden +
                        3.0 * hidden * c.intermediate_size;
  const double d = static_cast<double>(c.head_dim);
  const double attention = 4.0 * c.num_heads * d * (c.segment_size + 1) / 2.0;
  const double retrieve = 2.0 * c.num_heads * d * d;
  const double update = (c.memory_update == MemoryUpdate::kDelta ? 4.0 : 2.0) * c.num_kv_heads * d * d;
  return c.num_layers * (2.0 * linear + attention + retrieve + update);
}

// "1,4,16,64" -> {1, 4, 16, 64}; "" -> none. The list is eval's
// (parse_token_lengths), with its own bound and message.
std::vector<int64_t> batch_sizes(const std::string& text) {
  if (text.empty()) return {};
  std::vector<int64_t> sizes;
  try {
    sizes = parse_token_lengths(text, "--batch");
  } catch (const std::invalid_argument&) {
    sizes.clear();
  }
  if (sizes.empty() || *std::max_element(sizes.begin(), sizes.end()) > 4096) {
    throw std::invalid_argument("--batch takes sizes from 1 to 4096 separated by commas, got '" +
                                text + "'");
  }
  return sizes;
}

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The best of a few large bf16 GEMMs on the backend's device, printed as
// they are measured.
double gemm_peak(const std::string& backend, double seconds_each) {
  double peak = 0.0;
  if (backend == "cuda") {
    std::printf("cuBLAS bf16 GEMM (fp32 accumulation), same run:");
    for (const auto& m : cuda::measure_cublas_bf16_peak(seconds_each)) {
      std::printf("  %s %.0f GFLOP/s;", m.shape.c_str(), m.gflops);
      peak = std::max(peak, m.gflops);
    }
  } else {
    std::printf("oneDNN bf16 GEMM, same run:");
    for (const auto& m : measure_gemm_peak(seconds_each)) {
      std::printf("  %s %.0f GFLOP/s;", m.shape.c_str(), m.gflops);
      peak = std::max(peak, m.gflops);
    }
  }
  std::printf("\n  peak %.0f GFLOP/s\n", peak);
  return peak;
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  Flags flags(args, {});
  flags.allow_only({"model", "shape", "tokens", "decode-tokens", "dtype", "chunk", "seed",
                    "gemm-seconds", "backend", "batch"});
  if (flags.has("model") == flags.has("shape")) {
    throw std::invalid_argument("give exactly one of --model DIR or --shape NAME");
  }
  const int64_t tokens = flags.integer("tokens", 65536);
  const int64_t decode_tokens = flags.integer("decode-tokens", 32);
  if (tokens < 1 || decode_tokens < 0) throw std::invalid_argument("--tokens must be >= 1");
  const std::vector<int64_t> batches = batch_sizes(flags.str("batch", ""));
  if (!batches.empty() && decode_tokens < 1) {
    throw std::invalid_argument("--batch needs --decode-tokens >= 1");
  }
  LoadOptions options;
  options.dtype = parse_compute_dtype(flags.str("dtype", "bf16"));
  options.backend = flags.backend();

  const auto load_start = std::chrono::steady_clock::now();
  std::shared_ptr<const Model> model;
  std::string what;
  if (flags.has("model")) {
    what = flags.str("model", "");
    model = Model::load(what, options);
  } else {
    what = flags.str("shape", "");
    const ModelConfig config = bench_shape(what);
    // Random weights: throughput does not depend on their values.
    auto tensors = random_weights(config, 1, 0.02f, 0.0f, false);
    std::map<std::string, TensorView> views;
    for (const auto& t : tensors) {
      views[t.name] = TensorView{DType::kF32, t.shape, t.values.data()};
    }
    model = Model::build(
        config,
        [&views](const std::string& name) -> const TensorView* {
          auto it = views.find(name);
          return it == views.end() ? nullptr : &it->second;
        },
        options, "shape " + what);
  }
  const ModelConfig& c = model->config();
  const int64_t chunk = flags.integer("chunk", c.segment_size);
  if (chunk < 1) throw std::invalid_argument("--chunk must be >= 1");
  std::printf("infini bench: %s on %s, %lld tokens in chunks of %lld (segment %lld), %s update\n",
              what.c_str(), model->backend().name().c_str(), static_cast<long long>(tokens),
              static_cast<long long>(chunk), static_cast<long long>(c.segment_size),
              memory_update_name(c.memory_update));
  if (options.backend == "cuda") std::printf("device: %s\n", cuda::device_description().c_str());
  std::printf("weights %.1f MiB, loaded in %.1f s\n", model->weight_bytes() / 1048576.0,
              since(load_start));

  const double peak = gemm_peak(options.backend, flags.number("gemm-seconds", 1.0));

  std::mt19937_64 rng(static_cast<uint64_t>(flags.integer("seed", 7)));
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(c.vocab_size - 1));
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (auto& id : ids) id = pick(rng);

  SessionState state = model->new_session();
  const int64_t state_start = state.state_bytes();
  const int64_t window = std::min<int64_t>(16384, std::max<int64_t>(tokens / 4, 1));
  double first_seconds = 0, last_seconds = 0;
  int64_t first_tokens = 0, last_tokens = 0;
  Rss rss_early;
  const auto ingest_start = std::chrono::steady_clock::now();
  int64_t reported = 0;
  for (int64_t at = 0; at < tokens; at += chunk) {
    const int64_t count = std::min(chunk, tokens - at);
    const auto t = std::chrono::steady_clock::now();
    model->ingest(state, std::span<const int32_t>(ids).subspan(static_cast<size_t>(at),
                                                              static_cast<size_t>(count)));
    const double s = since(t);
    if (at < window) first_seconds += s, first_tokens += count;
    if (at >= tokens - window) last_seconds += s, last_tokens += count;
    if (at + count >= window && rss_early.current_mib == 0) rss_early = read_rss();
    if (at + count - reported >= tokens / 8 || at + count == tokens) {
      reported = at + count;
      std::fprintf(stderr, "  ingested %lld / %lld tokens, %.0f tok/s so far\n",
                   static_cast<long long>(reported), static_cast<long long>(tokens),
                   reported / since(ingest_start));
    }
  }
  const double ingest_seconds = since(ingest_start);
  const Rss rss_end = read_rss();
  const double rate = tokens / ingest_seconds;
  const double per_token = flops_per_token(c);
  std::printf("ingest: %lld tokens in %.2f s = %.0f tok/s\n", static_cast<long long>(tokens),
              ingest_seconds, rate);
  if (first_tokens > 0 && last_tokens > 0) {
    const double first_rate = first_tokens / first_seconds, last_rate = last_tokens / last_seconds;
    std::printf("  first %lld tokens %.0f tok/s, last %lld tokens %.0f tok/s (last/first %.3f)\n",
                static_cast<long long>(first_tokens), first_rate,
                static_cast<long long>(last_tokens), last_rate, last_rate / first_rate);
  }
  std::printf("  %.3f GFLOP per token -> %.0f GFLOP/s = %.2f of the GEMM peak\n", per_token / 1e9,
              per_token * rate / 1e9, per_token * rate / 1e9 / peak);

  double single_rate = 0.0;  // tok/s of one stream, the batches' baseline
  if (decode_tokens > 0) {
    SessionState fork = state.fork();
    std::vector<float> logits = model->logits_last(fork, std::span<const int32_t>(ids).last(1));
    const auto t = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < decode_tokens; ++i) {
      const int32_t next =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      logits = model->logits_last(fork, std::span<const int32_t>(&next, 1));
    }
    const double s = since(t);
    // One token at a time is bound by latency and weight reads, not FLOPs:
    // the ratio shows how far from the ceiling that leaves it.
    const double decode_flops = per_token + 2.0 * c.hidden_size * c.vocab_size;  // + logits
    // Attention over the window costs per token what the window holds, so
    // the depth decode starts at is part of the figure (--tokens sets it).
    std::printf(
        "decode: %lld tokens in %.2f s = %.1f tok/s (greedy, with logits) = %.4f of the "
        "GEMM peak; from window depth %lld of %lld\n",
        static_cast<long long>(decode_tokens), s, decode_tokens / s,
        decode_flops * (decode_tokens / s) / 1e9 / peak,
        static_cast<long long>(state.segment_offset()), static_cast<long long>(c.segment_size));
    single_rate = decode_tokens / s;
  }
  if (!batches.empty()) {
    // One decode step reads every weight once, for one sequence or many:
    // the bound of a single stream is the machine's read bandwidth over the
    // bytes of weights, measured in this run.
    // A buffer well past the last-level cache: twice the weights, at least 512 MiB.
    const int64_t probe = std::max<int64_t>(int64_t{512} << 20, 2 * model->weight_bytes());
    const double bandwidth = options.backend == "cuda" ? 0.0 : measure_read_bandwidth(probe, 3);
    if (bandwidth > 0) {
      std::printf("memory read (OpenMP team, %.0f MiB buffer): %.1f GB/s; one step reads %.1f MB "
                  "of weights: single-stream bound %.0f tok/s\n",
                  probe / 1048576.0, bandwidth, model->weight_bytes() / 1e6,
                  bandwidth * 1e9 / model->weight_bytes());
    }
    for (const int64_t b : batches) {
      // B sequences forked from the document, each from its own last token.
      std::vector<SessionState> forks;
      std::vector<SessionState*> members;
      forks.reserve(static_cast<size_t>(b));
      for (int64_t i = 0; i < b; ++i) forks.push_back(state.fork());
      for (auto& f : forks) members.push_back(&f);
      std::vector<int32_t> next(static_cast<size_t>(b));
      for (int64_t i = 0; i < b; ++i) next[static_cast<size_t>(i)] = pick(rng);
      std::vector<float> logits = model->decode(members, next);
      const auto t = std::chrono::steady_clock::now();
      for (int64_t step = 0; step < decode_tokens; ++step) {
        for (int64_t i = 0; i < b; ++i) {
          const auto row = logits.begin() + i * c.vocab_size;
          next[static_cast<size_t>(i)] =
              static_cast<int32_t>(std::max_element(row, row + c.vocab_size) - row);
        }
        logits = model->decode(members, next);
      }
      const double s = since(t);
      const double aggregate = static_cast<double>(b * decode_tokens) / s;
      std::printf("decode batch %3lld: %lld steps in %.2f s = %.1f tok/s aggregate, %.1f per "
                  "stream, %.1f ms per step",
                  static_cast<long long>(b), static_cast<long long>(decode_tokens), s, aggregate,
                  aggregate / static_cast<double>(b), 1e3 * s / decode_tokens);
      if (single_rate > 0) std::printf(" = %.2fx the single stream", aggregate / single_rate);
      std::printf("\n");
    }
  }
  // At rest (position on a segment boundary) a state holds its memory
  // only; a step holds the window as well: the KV comparison uses the step.
  std::printf("state: %lld bytes at start, %lld after %lld tokens; a step holds %lld (memory %lld + "
              "window %lld)\n",
              static_cast<long long>(state_start), static_cast<long long>(state.state_bytes()),
              static_cast<long long>(tokens), static_cast<long long>(state.step_bytes()),
              static_cast<long long>(state.memory_bytes()),
              static_cast<long long>(state.window_bytes()));
  const int64_t kv = c.kv_cache_bytes(tokens, 2);
  std::printf("  a bf16 full-attention KV cache for %lld tokens: %lld bytes = %.1fx a step's state\n",
              static_cast<long long>(tokens), static_cast<long long>(kv),
              static_cast<double>(kv) / static_cast<double>(state.step_bytes()));
  std::printf("RSS: %.0f MiB after the first %lld tokens, %.0f MiB at the end, peak %.0f MiB\n",
              rss_early.current_mib, static_cast<long long>(window), rss_end.current_mib,
              rss_end.peak_mib);
  return 0;
}

}  // namespace infini::tool
