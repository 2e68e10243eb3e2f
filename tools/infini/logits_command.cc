// infini logits: feeds token ids N at a time and writes every token's logits.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/model.h"
#include "tools/infini/commands.h"
#include "tools/infini/flags.h"

namespace infini::tool {

namespace {

std::vector<int32_t> read_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw EngineError(ErrorCode::kNotFound, "cannot open ids file '" + path + "'");
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX) {
      throw EngineError(ErrorCode::kInvalidArgument, path + ": '" + word + "' at position " +
                                                         std::to_string(ids.size()) +
                                                         " is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw EngineError(ErrorCode::kInvalidArgument, path + ": no token ids");
  return ids;
}

}  // namespace

int logits_command(const std::vector<std::string>& args) {
  Flags flags(args, {});
  flags.allow_only({"model", "ids-file", "out", "chunk", "dtype", "gate", "backend"});
  LoadOptions options;
  options.dtype = parse_compute_dtype(flags.str("dtype", "f32"));
  options.backend = flags.backend();
  if (flags.has("gate")) options.gate = static_cast<float>(flags.number("gate", 0.5));
  auto model = Model::load(flags.required("model"), options);
  const auto ids = read_ids(flags.required("ids-file"));
  const int64_t chunk = flags.integer("chunk", static_cast<int64_t>(ids.size()));
  if (chunk < 1) throw std::invalid_argument("--chunk must be >= 1");

  const std::string out_path = flags.required("out");
  std::ofstream out(out_path, std::ios::binary);
  if (!out) throw EngineError(ErrorCode::kInvalidArgument, "cannot write '" + out_path + "'");
  SessionState state = model->new_session();
  for (size_t at = 0; at < ids.size(); at += static_cast<size_t>(chunk)) {
    const size_t count = std::min(static_cast<size_t>(chunk), ids.size() - at);
    auto logits = model->logits_all(state, std::span<const int32_t>(ids).subspan(at, count));
    out.write(reinterpret_cast<const char*>(logits.data()),
              static_cast<std::streamsize>(logits.size() * sizeof(float)));
  }
  if (!out.flush()) throw EngineError(ErrorCode::kInternal, "write to '" + out_path + "' failed");
  std::fprintf(stderr, "wrote %zu x %lld logits to %s\n", ids.size(),
               static_cast<long long>(model->config().vocab_size), out_path.c_str());
  return 0;
}

}  // namespace infini::tool
