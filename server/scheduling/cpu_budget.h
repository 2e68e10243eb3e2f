// How many cores this process may really use: the smallest of the CPUs in
// its affinity mask and its cgroup's CPU quota. std::thread::hardware_concurrency
// counts the host's CPUs, so inside a container limited to 4 CPUs on a
// 64-core host it would have one session run 64 OpenMP threads and be
// throttled by the quota.
#pragma once

#include <optional>
#include <string>

namespace infini::server {

// The cores a cgroup v2 `cpu.max` line allows ("200000 100000" -> 2,
// "150000 100000" -> 2: a fraction still needs a thread), or nullopt for
// "max ..." (no quota) and text that is not a quota.
std::optional<int> cores_from_cpu_max(const std::string& cpu_max);

// Reads sched_getaffinity and /sys/fs/cgroup/cpu.max (cgroup v2; absent or
// unreadable means no quota). At least 1.
int usable_cores();

}  // namespace infini::server
