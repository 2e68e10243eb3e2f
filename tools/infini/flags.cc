#include "tools/infini/flags.h"

#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/error.h"

namespace infini::tool {

Flags::Flags(const std::vector<std::string>& args, const std::set<std::string>& switches) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      throw std::invalid_argument("unexpected argument '" + a + "'");
    }
    std::string name = a.substr(2);
    const auto eq = name.find('=');
    if (eq != std::string::npos) {
      values_[name.substr(0, eq)] = name.substr(eq + 1);
    } else if (switches.count(name)) {
      values_[name] = "true";
    } else if (i + 1 < args.size()) {
      values_[name] = args[++i];
    } else {
      throw std::invalid_argument("flag --" + name + " needs a value");
    }
  }
}

bool Flags::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Flags::str(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Flags::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::invalid_argument("missing required flag --" + name);
  return it->second;
}

std::optional<std::string> Flags::optional(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

int64_t Flags::integer(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::string text = it->second;
  int64_t scale = 1;
  if (!text.empty() && (text.back() == 'k' || text.back() == 'K')) scale = 1024, text.pop_back();
  if (!text.empty() && (text.back() == 'm' || text.back() == 'M')) scale = 1024 * 1024, text.pop_back();
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) {
    throw std::invalid_argument("--" + name + " expects an integer, got '" + it->second + "'");
  }
  return v * scale;
}

double Flags::number(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size()) {
    throw std::invalid_argument("--" + name + " expects a number, got '" + it->second + "'");
  }
  return v;
}

void Flags::allow_only(const std::set<std::string>& known) const {
  for (const auto& [name, value] : values_) {
    if (!known.count(name)) throw std::invalid_argument("unknown flag --" + name);
  }
}

std::optional<int64_t> Flags::segment_size() const {
  if (!has("segment-size")) return std::nullopt;
  const int64_t size = integer("segment-size", 0);
  if (size < 1 || size > (1 << 20)) {
    throw std::invalid_argument("--segment-size must be between 1 and 1048576 tokens, got " +
                                std::to_string(size));
  }
  return size;
}

std::string Flags::backend() const {
  const std::string name = str("backend", "cpu");
  if (name != "cpu" && name != "cuda") {
    throw std::invalid_argument("--backend must be cpu or cuda, got '" + name + "'");
  }
  std::string reason;
  if (name == "cuda" && !cuda::device_available(&reason)) {
    throw EngineError(ErrorCode::kUnsupported, "--backend cuda: " + reason);
  }
  return name;
}

}  // namespace infini::tool
