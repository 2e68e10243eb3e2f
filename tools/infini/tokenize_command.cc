// infini tokenize: prints the ids of a text file, one line, space-separated.
// The default --special parse reads special-token strings as their ids, exactly as
// Hugging Face's encode(text, add_special_tokens=False); --special text reads them
// as plain text, as the server reads documents and questions. No bos is added.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "engine/tokenizer.h"
#include "tools/infini/commands.h"
#include "tools/infini/flags.h"

namespace infini::tool {

int tokenize_command(const std::vector<std::string>& args) {
  Flags flags(args, {});
  flags.allow_only({"tokenizer", "model", "in", "special"});
  const auto file = flags.optional("tokenizer");
  const auto model = flags.optional("model");
  if (file.has_value() == model.has_value()) {
    throw std::invalid_argument(
        "give exactly one of --tokenizer FILE (tokenizer.json or tokenizer.model) or --model DIR");
  }
  const std::string in = flags.required("in");
  const std::string special = flags.str("special", "parse");
  if (special != "parse" && special != "text") {
    throw std::invalid_argument("--special must be parse or text, got '" + special + "'");
  }
  auto tokenizer = file ? Tokenizer::load(*file) : Tokenizer::load_from_model_dir(*model);
  std::ifstream input(in, std::ios::binary);
  if (!input) throw std::invalid_argument("cannot read --in " + in);
  const std::string text((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  const auto ids =
      tokenizer->encode(text, special == "parse" ? SpecialTokens::kParse : SpecialTokens::kAsText);
  std::string line;
  line.reserve(ids.size() * 7);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line.push_back(' ');
    line += std::to_string(ids[i]);
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

}  // namespace infini::tool
