#include "client/cli_args.h"

#include <exception>

namespace infini::client::cli {

const std::set<std::string> kGlobalFlags = {"server",  "timeout",         "tls-ca",    "tls-cert",
                                            "tls-key", "tls-server-name", "token-file"};

Args parse_args(const std::vector<std::string>& argv, const std::string& command,
                const FlagSpec& spec) {
  Args args;
  args.command = command;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (flags_done || arg == "-" || arg.rfind("-", 0) != 0) {
      args.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unknown flag '" + arg + "'", command);
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (spec.switches.count(name)) {
      if (value) throw UsageError("--" + name + " takes no value", command);
      args.values[name].push_back("true");
      continue;
    }
    if (!spec.values.count(name) && !spec.repeated.count(name) && !kGlobalFlags.count(name)) {
      throw UsageError("unknown flag --" + name, command);
    }
    if (!value) {
      if (i + 1 >= argv.size()) throw UsageError("--" + name + " needs a value", command);
      value = argv[++i];
    }
    args.values[name].push_back(*value);
  }
  return args;
}

int64_t parse_integer(const Args& args, const std::string& name, int64_t fallback,
                      int64_t min_value) {
  const auto text = args.get(name);
  if (!text) return fallback;
  std::string digits = *text;
  int64_t scale = 1;
  if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) {
    scale = 1024, digits.pop_back();
  } else if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'M')) {
    scale = 1024 * 1024, digits.pop_back();
  }
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != digits.size() || value * scale < min_value) {
    throw UsageError("--" + name + " expects an integer of at least " + std::to_string(min_value) +
                         ", got '" + *text + "'",
                     args.command);
  }
  return value * scale;
}

double parse_number(const Args& args, const std::string& name, double fallback) {
  const auto text = args.get(name);
  if (!text) return fallback;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size() || !(value >= 0.0)) {
    throw UsageError("--" + name + " expects a non-negative number, got '" + *text + "'",
                     args.command);
  }
  return value;
}

Labels parse_labels(const Args& args) {
  Labels labels;
  for (const auto& label : args.all("label")) {
    const auto eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--label expects k=v, got '" + label + "'", args.command);
    }
    if (!labels.emplace(label.substr(0, eq), label.substr(eq + 1)).second) {
      throw UsageError("--label " + label.substr(0, eq) + " given twice", args.command);
    }
  }
  return labels;
}

void expect_positional(const Args& args, size_t count, const std::string& what) {
  if (args.positional.size() != count) {
    throw UsageError(
        "expects " + what + ", got " + std::to_string(args.positional.size()) + " argument(s)",
        args.command);
  }
}

}  // namespace infini::client::cli
