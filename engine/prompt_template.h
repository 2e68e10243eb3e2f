// How a question or a summary request continues a document's token stream.
// Read from `prompt_template.json` in the model directory; a model without
// one gets the defaults below.
#pragma once

#include <string>
#include <vector>

namespace infini {

struct PromptTemplate {
  std::string document_prefix;                          // before the first chunk
  std::string question = "\nQuestion: {question}\nAnswer:";  // {question} is replaced
  std::string summary = "\nSummary:";
  std::vector<std::string> stop = {"\n"};

  // Throws EngineError(kCorruptData) for a file that is not valid JSON.
  static PromptTemplate load(const std::string& model_dir);
  std::string question_text(const std::string& question_text) const;
};

}  // namespace infini
