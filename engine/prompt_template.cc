#include "engine/prompt_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace infini {

PromptTemplate PromptTemplate::load(const std::string& model_dir) {
  PromptTemplate t;
  const auto path = std::filesystem::path(model_dir) / "prompt_template.json";
  std::ifstream in(path);
  if (!in) return t;
  std::stringstream text;
  text << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(text.str());
    t.document_prefix = j.value("document_prefix", t.document_prefix);
    t.question = j.value("question", t.question);
    t.summary = j.value("summary", t.summary);
    t.stop = j.value("stop", t.stop);
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(ErrorCode::kCorruptData, path.string() + ": " + e.what());
  }
  return t;
}

std::string PromptTemplate::question_text(const std::string& q) const {
  std::string out = question;
  const std::string marker = "{question}";
  const auto at = out.find(marker);
  if (at == std::string::npos) return out + q;
  return out.replace(at, marker.size(), q);
}

}  // namespace infini
