// infini eval: long-context accuracy through the C++ engine. For each length
// and trial it generates a passkey / needle / summary document
// (docs/demo-tasks.md), streams it into a session as the server would, asks,
// and compares the greedy answer with the expected one; then the same with
// memory off (local attention only) and with only the last segment read.
// Prints a Markdown table, one row per length.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>

#include "engine/human_bytes.h"
#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "tools/infini/commands.h"
#include "tools/infini/eval_runner.h"
#include "tools/infini/eval_tasks.h"
#include "tools/infini/flags.h"

namespace infini::tool {

namespace {

std::string percent(int64_t hits, int64_t total) {
  if (total == 0) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%",
                100.0 * static_cast<double>(hits) / static_cast<double>(total));
  return buf;
}

// Quotes generated text for a one-line progress message.
std::string shown(const std::string& text) {
  std::string out = "'";
  for (char c : text.substr(0, 60)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out + (text.size() > 60 ? "...'" : "'");
}

struct Options {
  EvalTask task = EvalTask::kPasskey;
  std::string model_dir;
  std::vector<int64_t> lengths;
  int64_t trials = 20;
  uint64_t seed = 1;
  std::string dtype = "bf16";
  std::string backend = "cpu";
  std::string prose_file;
  bool prose = false;
  bool baselines = true;
  int32_t max_tokens = 16;
  std::optional<float> gate;
};

// Everything a user can get wrong is checked here, before the model loads.
Options parse_options(const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("--", 0) == 0) {
    throw std::invalid_argument("missing task: infini eval passkey|needle|summary --model DIR ...");
  }
  Options o;
  o.task = parse_eval_task(args[0]);
  Flags flags(std::vector<std::string>(args.begin() + 1, args.end()),
              {"baselines", "no-baselines"});
  flags.allow_only({"model", "lengths", "trials", "filler", "prose-file", "seed", "dtype",
                    "baselines", "no-baselines", "max-tokens", "gate", "backend"});
  o.model_dir = flags.required("model");
  o.lengths = parse_token_lengths(flags.required("lengths"), "--lengths");
  o.trials = flags.integer("trials", 20);
  if (o.trials < 1)
    throw std::invalid_argument("--trials must be >= 1, got " + std::to_string(o.trials));
  const int64_t seed = flags.integer("seed", 1);
  if (seed < 0) throw std::invalid_argument("--seed must be >= 0");
  o.seed = static_cast<uint64_t>(seed);
  o.dtype = flags.str("dtype", "bf16");
  if (o.dtype != "bf16" && o.dtype != "f32") {
    throw std::invalid_argument("--dtype must be bf16 or f32, got '" + o.dtype + "'");
  }
  o.backend = flags.backend();
  const std::string filler = flags.str("filler", "repeat");
  if (filler != "repeat" && filler != "prose") {
    throw std::invalid_argument("--filler must be repeat or prose, got '" + filler + "'");
  }
  o.prose = filler == "prose";
  o.prose_file =
      flags.str("prose-file", (std::filesystem::path(o.model_dir) / "eval-prose.txt").string());
  if (flags.has("prose-file") && !o.prose) {
    throw std::invalid_argument("--prose-file is read only with --filler prose");
  }
  if (flags.has("baselines") && flags.has("no-baselines")) {
    throw std::invalid_argument("give at most one of --baselines and --no-baselines");
  }
  o.baselines = !flags.has("no-baselines");
  const int64_t max_tokens = flags.integer("max-tokens", o.task == EvalTask::kSummary ? 48 : 16);
  if (max_tokens < 1 || max_tokens > 1 << 20) {
    throw std::invalid_argument("--max-tokens must be between 1 and 1048576");
  }
  o.max_tokens = static_cast<int32_t>(max_tokens);
  if (flags.has("gate")) {
    const double g = flags.number("gate", 0.5);
    if (!(g > 0.0 && g < 1.0))
      throw std::invalid_argument("--gate must be strictly between 0 and 1");
    o.gate = static_cast<float>(g);
  }
  return o;
}

// Per length: counts over its trials.
struct LengthTally {
  int64_t trials = 0, correct = 0, memory_off = 0, last_segment = 0;
  int64_t facts = 0, facts_in_place = 0;
  int64_t chars = 0, chars_in_place = 0, memory_off_chars_in_place = 0;
  int64_t bucket_trials[5] = {}, bucket_correct[5] = {};
  int64_t document_tokens = 0, tokens_read = 0, state_bytes = 0;
  double ingest_seconds = 0.0;
};

}  // namespace

int eval_command(const std::vector<std::string>& args) {
  const Options o = parse_options(args);
  // A missing prose file is a usage error, found before minutes of loading.
  const Filler filler = o.prose ? Filler::load_prose(o.prose_file) : Filler::repeat();
  const bool summary = o.task == EvalTask::kSummary;

  LoadOptions load;
  load.dtype = parse_compute_dtype(o.dtype);
  load.backend = o.backend;
  load.gate = o.gate;
  auto model = Model::load(o.model_dir, load);
  std::shared_ptr<const Model> memory_off;
  if (o.baselines) memory_off = Model::load(o.model_dir, memory_off_options(load));
  auto tokenizer = Tokenizer::load_from_model_dir(o.model_dir);
  const PromptTemplate prompt = PromptTemplate::load(o.model_dir, tokenizer.get());
  const ModelConfig& config = model->config();
  if (std::filesystem::exists(std::filesystem::path(o.model_dir) / "UNTRAINED")) {
    std::fprintf(stderr, "note: %s holds random, untrained weights: expect accuracies near 0.\n",
                 o.model_dir.c_str());
  }
  const EvalDocuments documents(tokenizer, prompt.document_prefix, filler);

  std::printf(
      "infini eval %s: filler %s, model %s, dtype %s, %lld trials per length, seed %llu, "
      "segment %lld tokens, max %d new tokens\n\n",
      eval_task_name(o.task), filler.name(), o.model_dir.c_str(), o.dtype.c_str(),
      static_cast<long long>(o.trials), static_cast<unsigned long long>(o.seed),
      static_cast<long long>(config.segment_size), o.max_tokens);
  std::printf(
      "| length | tokens | model acc |%s 0-20%% | 20-40%% | 40-60%% | 60-80%% | 80-100%% | "
      "memory-off acc |%s last-segment acc | state | KV cache (bf16) | KV / state | "
      "ingest tok/s |\n",
      summary ? " facts in place |" : " digits in place |",
      summary ? "" : " memory-off digits in place |");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|%s---:|---:|---:|---:|---:|---:|\n",
              summary ? "" : "---:|");
  std::fflush(stdout);

  for (const int64_t length : o.lengths) {
    LengthTally t;
    const std::string label = format_token_length(length);
    for (int64_t trial = 0; trial < o.trials; ++trial) {
      const auto started = std::chrono::steady_clock::now();
      const EvalCase c = documents.make(o.task, length, trial, o.trials, o.seed);
      const std::vector<int32_t> ids =
          encode_document(tokenizer, prompt.document_prefix_pieces(), c.document);
      const std::vector<int32_t> prompt_ids = encode_prompt(
          *tokenizer, summary ? prompt.summary_pieces() : prompt.question_pieces(c.question));
      const std::span<const int32_t> all(ids);

      auto last_note = std::chrono::steady_clock::now();
      const AnswerRun run = answer_after(
          *model, *tokenizer, all, prompt_ids, o.max_tokens, prompt.stop,
          [&](int64_t read, double seconds) {
            // Long documents: a line every 30 s so the run shows it is alive.
            const auto now = std::chrono::steady_clock::now();
            if (now - last_note < std::chrono::seconds(30)) return;
            last_note = now;
            std::fprintf(stderr, "  %s trial %lld: read %lld of %zu tokens (%.0f tok/s)\n",
                         label.c_str(), static_cast<long long>(trial + 1),
                         static_cast<long long>(read), ids.size(), read / seconds);
          },
          prompt.stop_ids);
      const std::string got = trim_answer(run.text);
      const bool ok = got == c.answer;
      std::string off_text, last_text;
      bool off_ok = false, last_ok = false;
      if (o.baselines) {
        off_text =
            trim_answer(answer_after(*memory_off, *tokenizer,
                                     all.subspan(memory_off_start(ids.size(), config.segment_size)),
                                     prompt_ids, o.max_tokens, prompt.stop, {}, prompt.stop_ids)
                            .text);
        last_text = trim_answer(
            answer_after(*model, *tokenizer,
                         all.subspan(last_segment_start(ids.size(), config.segment_size)),
                         prompt_ids, o.max_tokens, prompt.stop, {}, prompt.stop_ids)
                .text);
        off_ok = off_text == c.answer;
        last_ok = last_text == c.answer;
      }

      ++t.trials;
      t.correct += ok;
      t.memory_off += off_ok;
      t.last_segment += last_ok;
      const int bucket = depth_bucket(c.depth);
      ++t.bucket_trials[bucket];
      t.bucket_correct[bucket] += ok;
      if (summary) {
        t.facts += static_cast<int64_t>(c.facts.size());
        t.facts_in_place += facts_in_place(got, c.facts);
      } else {
        t.chars += static_cast<int64_t>(c.answer.size());
        t.chars_in_place += chars_in_place(got, c.answer);
        t.memory_off_chars_in_place += chars_in_place(off_text, c.answer);
      }
      t.document_tokens += static_cast<int64_t>(ids.size());
      t.tokens_read += run.tokens_read;
      t.ingest_seconds += run.ingest_seconds;
      t.state_bytes = run.state_bytes;

      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "[%s trial %lld/%lld] depth %.3f, %zu tokens: expected %s, got %s %s",
                   label.c_str(), static_cast<long long>(trial + 1),
                   static_cast<long long>(o.trials), c.depth, ids.size(), shown(c.answer).c_str(),
                   shown(got).c_str(), ok ? "ok" : "wrong");
      if (o.baselines) {
        std::fprintf(stderr, "; memory-off %s %s; last-segment %s %s", shown(off_text).c_str(),
                     off_ok ? "ok" : "wrong", shown(last_text).c_str(), last_ok ? "ok" : "wrong");
      }
      std::fprintf(stderr, "; %.2f s\n", seconds);
    }

    const int64_t mean_tokens = (t.document_tokens + t.trials / 2) / t.trials;
    const int64_t kv = config.kv_cache_bytes(mean_tokens, 2);
    const double ratio = static_cast<double>(kv) / static_cast<double>(t.state_bytes);
    std::string row = "| " + label + " | " + std::to_string(mean_tokens) + " |";
    auto cell = [&row](const std::string& text) { row.append(" ").append(text).append(" |"); };
    cell(percent(t.correct, t.trials));
    cell(summary ? percent(t.facts_in_place, t.facts) : percent(t.chars_in_place, t.chars));
    for (int b = 0; b < 5; ++b) cell(percent(t.bucket_correct[b], t.bucket_trials[b]));
    cell(o.baselines ? percent(t.memory_off, t.trials) : "-");
    if (!summary) cell(o.baselines ? percent(t.memory_off_chars_in_place, t.chars) : "-");
    cell(o.baselines ? percent(t.last_segment, t.trials) : "-");
    char tail[160];
    std::snprintf(
        tail, sizeof tail, " %s | %s | %.1fx | %.0f |",
        human_bytes(static_cast<double>(t.state_bytes)).c_str(),
        human_bytes(static_cast<double>(kv)).c_str(), ratio,
        t.ingest_seconds > 0 ? static_cast<double>(t.tokens_read) / t.ingest_seconds : 0.0);
    std::printf("%s%s\n", row.c_str(), tail);
    std::fflush(stdout);
    std::fprintf(stderr,
                 "%s: state %s (%lld bytes, fixed); a full-attention bf16 KV cache for %lld tokens "
                 "needs %s (%lld bytes): %.1fx the state\n",
                 label.c_str(), human_bytes(static_cast<double>(t.state_bytes)).c_str(),
                 static_cast<long long>(t.state_bytes), static_cast<long long>(mean_tokens),
                 human_bytes(static_cast<double>(kv)).c_str(), static_cast<long long>(kv), ratio);
  }
  return 0;
}

}  // namespace infini::tool
