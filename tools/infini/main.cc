// infini: the engine's command-line tool (logits, make-model, run, bench, eval, make-doc).
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "engine/error.h"
#include "tools/infini/commands.h"

namespace {

constexpr const char* kUsage = R"(usage: infini <command> [flags]

commands:
  run         stream a document through the compressive memory, then answer or summarise
              --model DIR --doc FILE (--question TEXT | --summarize) [--max-tokens N]
              [--temperature T --top-k K --top-p P --seed S] [--dtype bf16|f32]
              [--chunk-bytes N] [--gate G] [--no-progress] [--backend cpu|cuda]
              [--segment-size S]  (a checkpoint without memory_gate runs memory off unless --gate)
              [--system-prompt TEXT]  (models with a chat template: docs/chat-templates.md)
  logits      write float32 logits [tokens x vocab] for a file of token ids
              --model DIR --ids-file FILE --out FILE [--chunk N] [--dtype f32|bf16]
              [--backend cpu|cuda]
  make-model  write a random checkpoint (config.json + model.safetensors)
              --out DIR --seed N [--vocab V --hidden H --layers L --heads A --kv-heads K
              --head-dim D --intermediate I --segment S --update linear|delta
              --dtype f32|bf16|f16 --tied --bias --init-std X --gate-logit B
              --tokenizer FILE]
  bench       ingest and decode throughput against a bf16 GEMM peak measured in the same
              run on the same device (oneDNN on cpu, cuBLAS on cuda)
              (--model DIR | --shape smollm2-135m|llama-1b|tiny) --tokens N
              [--decode-tokens N] [--dtype bf16|f32] [--chunk N] [--backend cpu|cuda]
              [--gemm-seconds S] [--batch 1,4,16,64: decode batches of that many sequences,
              against the single stream and the memory-bandwidth bound]
  eval        long-context accuracy (docs/demo-tasks.md) of the model, of the same weights
              with memory off, and of reading only the last segment: a Markdown table
              passkey|needle|summary --model DIR --lengths 1k,8k,32k,128k,1m [--trials N]
              [--filler repeat|prose] [--prose-file FILE] [--seed S] [--dtype bf16|f32]
              [--baselines|--no-baselines] [--max-tokens N] [--gate G] [--backend cpu|cuda]
  make-doc    write one such document to a file; prints its question and answer
              passkey|needle|summary --model DIR --length N --out FILE
              [--filler repeat|prose] [--prose-file FILE] [--depth D] [--seed S]
  tokenize    print a text file's token ids, one line, space-separated
              (--tokenizer FILE | --model DIR) --in FILE [--special parse|text]
              (parse: special-token strings become their ids, as Hugging Face's encode)
  convert     an Infini checkpoint from a plain Llama-family one: config.json gains
              segment_size and memory_update, every layer a memory_gate (logit -4), weights
              hard-linked (copied across file systems), tokenizer and templates copied
              --from DIR --out DIR --segment S --update delta|linear [--gate-logit B]
              [--force (re-initialise an Infini checkpoint's gates)] [--copy]

--backend: the engine's device, cpu (default) or cuda (an NVIDIA GPU; needs a build with
the CUDA toolkit). Run `infini <command> --help` for the same text.)";

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::puts(kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::puts(kUsage);
      return 0;
    }
  }
  try {
    if (command == "logits") return infini::tool::logits_command(args);
    if (command == "make-model") return infini::tool::make_model_command(args);
    if (command == "run") return infini::tool::run_command(args);
    if (command == "bench") return infini::tool::bench_command(args);
    if (command == "eval") return infini::tool::eval_command(args);
    if (command == "make-doc") return infini::tool::make_doc_command(args);
    if (command == "tokenize") return infini::tool::tokenize_command(args);
    if (command == "convert") return infini::tool::convert_command(args);
    std::fprintf(stderr, "infini: unknown command '%s'\n%s\n", command.c_str(), kUsage);
    return 2;
  } catch (const infini::EngineError& e) {
    std::fprintf(stderr, "infini %s: error (%s): %s\n", command.c_str(),
                 infini::error_code_name(e.code()), e.what());
    return 1;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "infini %s: %s (see infini --help)\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infini %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
