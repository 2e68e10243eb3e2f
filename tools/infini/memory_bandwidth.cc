#include "tools/infini/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace infini::tool {

double measure_read_bandwidth(int64_t bytes, int repeats) {
  // 64-bit integers: their sum is associative, so the loop vectorises into
  // wide loads (a float sum in order would be bound by its adds instead).
  const int64_t n = std::max<int64_t>(1, bytes / static_cast<int64_t>(sizeof(uint64_t)));
  std::vector<uint64_t> buffer(static_cast<size_t>(n), 1);
  const uint64_t* data = buffer.data();
  double best = 0.0;
  for (int r = 0; r <= repeats; ++r) {
    uint64_t sum = 0;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (int64_t i = 0; i < n; ++i) sum += data[i];
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The sum keeps the reads from being optimised away; it is n.
    if (sum != static_cast<uint64_t>(n)) std::printf("impossible sum %llu\n", static_cast<unsigned long long>(sum));
    if (r > 0) best = std::max(best, static_cast<double>(n) * sizeof(uint64_t) / s / 1e9);
  }
  return best;
}

}  // namespace infini::tool
