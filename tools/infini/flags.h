// A small --name value / --switch parser for the `infini` subcommands.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace infini::tool {

class Flags {
 public:
  // `switches` are flags without a value. Throws std::invalid_argument for a
  // malformed command line.
  Flags(const std::vector<std::string>& args, const std::set<std::string>& switches);

  bool has(const std::string& name) const;
  std::string str(const std::string& name, const std::string& fallback) const;
  std::string required(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name, double fallback) const;
  std::optional<std::string> optional(const std::string& name) const;
  // Throws if any flag was given that is not in `known`.
  void allow_only(const std::set<std::string>& known) const;
  // --backend cpu|cuda (default cpu). Throws std::invalid_argument for
  // another name, and EngineError(kUnsupported) with the reason for cuda
  // where this build or machine has no usable GPU, before any work is done.
  std::string backend() const;
  // --segment-size S (LoadOptions::segment_size): absent, or a positive
  // token count; throws std::invalid_argument otherwise.
  std::optional<int64_t> segment_size() const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace infini::tool
