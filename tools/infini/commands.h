// The `infini` subcommands; each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace infini::tool {

int logits_command(const std::vector<std::string>& args);
int make_model_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int eval_command(const std::vector<std::string>& args);
int make_doc_command(const std::vector<std::string>& args);
int tokenize_command(const std::vector<std::string>& args);
int convert_command(const std::vector<std::string>& args);

}  // namespace infini::tool
