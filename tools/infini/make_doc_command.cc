// infini make-doc: writes one evaluation document (docs/demo-tasks.md) to a
// file and prints its question and answer, for demos and for timing a long
// document through the server.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "tools/infini/commands.h"
#include "tools/infini/eval_tasks.h"
#include "tools/infini/flags.h"

namespace infini::tool {

int make_doc_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("--", 0) == 0) {
    throw std::invalid_argument(
        "missing task: infini make-doc passkey|needle|summary --model DIR --length N --out FILE");
  }
  const EvalTask task = parse_eval_task(args[0]);
  Flags flags(std::vector<std::string>(args.begin() + 1, args.end()), {});
  flags.allow_only({"model", "length", "out", "filler", "prose-file", "depth", "seed"});
  const std::string model_dir = flags.required("model");
  const int64_t length = parse_token_length(flags.required("length"), "--length");
  const std::string out = flags.required("out");
  const std::string filler_name = flags.str("filler", "repeat");
  if (filler_name != "repeat" && filler_name != "prose") {
    throw std::invalid_argument("--filler must be repeat or prose, got '" + filler_name + "'");
  }
  const double depth = flags.number("depth", 0.5);
  if (!(depth >= 0.0 && depth <= 1.0)) throw std::invalid_argument("--depth must be in [0, 1]");
  const int64_t seed = flags.integer("seed", 1);
  if (seed < 0) throw std::invalid_argument("--seed must be >= 0");
  const Filler filler =
      filler_name == "prose"
          ? Filler::load_prose(
                flags.str("prose-file", (std::filesystem::path(model_dir) / "eval-prose.txt").string()))
          : Filler::repeat();

  auto tokenizer = Tokenizer::load_from_model_dir(model_dir);
  const PromptTemplate prompt = PromptTemplate::load(model_dir);
  const EvalDocuments documents(tokenizer, prompt.document_prefix, filler);
  EvalRandom random(static_cast<uint64_t>(seed), task, length, 0);
  const EvalCase c = documents.make_at(task, length, depth, random);

  std::ofstream file(out, std::ios::binary);
  file << c.document;
  if (!file.flush()) throw std::runtime_error("cannot write " + out);
  std::printf("document: %s (%zu bytes, about %lld tokens, %s filler, depth %.2f)\n", out.c_str(),
              c.document.size(), static_cast<long long>(c.estimated_tokens), filler.name(), depth);
  std::printf("question: %s\nanswer: %s\n", c.question.c_str(), c.answer.c_str());
  return 0;
}

}  // namespace infini::tool
