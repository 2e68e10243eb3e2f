#include "server/scheduling/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

namespace infini::server {

std::optional<int> cores_from_cpu_max(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota_text;
  long long period = 0;
  if (!(in >> quota_text >> period) || quota_text == "max" || period <= 0) return std::nullopt;
  size_t used = 0;
  long long quota = 0;
  try {
    quota = std::stoll(quota_text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != quota_text.size() || quota <= 0) return std::nullopt;
  const double cores = std::ceil(static_cast<double>(quota) / static_cast<double>(period));
  return static_cast<int>(std::clamp(cores, 1.0, 1e6));
}

int usable_cores() {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string line;
  if (cpu_max && std::getline(cpu_max, line)) {
    if (const auto quota = cores_from_cpu_max(line)) cores = std::min(cores, *quota);
  }
  return cores;
}

}  // namespace infini::server
