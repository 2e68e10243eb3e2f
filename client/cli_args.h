// infini-client's command-line vocabulary: a command's flags and positional
// arguments read from argv, and typed values read from the flags. Every
// mistake is a UsageError naming the command, so the user is pointed at that
// command's --help.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/cli_errors.h"
#include "client/infini_client.h"

namespace infini::client::cli {

// The flags a command takes besides the global ones.
struct FlagSpec {
  std::set<std::string> values;    // --name VALUE, the last one counts
  std::set<std::string> repeated;  // --name VALUE, every one counts
  std::set<std::string> switches;  // --name
};

// Flags every command takes (--server, --timeout, TLS, --token-file); main()
// also accepts them before the command.
extern const std::set<std::string> kGlobalFlags;

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;
  bool help = false;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second.back();
  }
  std::vector<std::string> all(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// Flags may come before or after the positional arguments; `--` ends flags.
Args parse_args(const std::vector<std::string>& argv, const std::string& command,
                const FlagSpec& spec);

// --name as an integer of at least `min_value`, with an optional K or M
// (1024-based) suffix; `fallback` when absent.
int64_t parse_integer(const Args& args, const std::string& name, int64_t fallback,
                      int64_t min_value);

// --name as a non-negative number; `fallback` when absent.
double parse_number(const Args& args, const std::string& name, double fallback);

// Every --label k=v; a key given twice is an error rather than a silent
// overwrite.
Labels parse_labels(const Args& args);

// Exactly `count` positional arguments; `what` names them in the error.
void expect_positional(const Args& args, size_t count, const std::string& what);

}  // namespace infini::client::cli
