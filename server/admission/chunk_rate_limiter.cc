#include "server/admission/chunk_rate_limiter.h"

#include <algorithm>
#include <cstdio>

#include "server/admission/limit.h"

namespace infini::server {

namespace {
constexpr size_t kMinSweepSize = 1024;
}

ChunkRateLimiter::ChunkRateLimiter(int64_t chunks_per_second)
    : rate_(static_cast<double>(chunks_per_second)),
      burst_(std::max(1.0, static_cast<double>(chunks_per_second))),
      sweep_at_(kMinSweepSize) {}

double ChunkRateLimiter::refilled(const Bucket& bucket, Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - bucket.at).count();
  return std::min(burst_, bucket.chunks + std::max(0.0, elapsed) * rate_);
}

void ChunkRateLimiter::take(const std::string& session_id, Clock::time_point now) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (buckets_.size() >= sweep_at_) sweep(now);
  auto [it, inserted] = buckets_.try_emplace(session_id, Bucket{burst_, now});
  Bucket& bucket = it->second;
  bucket.chunks = refilled(bucket, now);
  bucket.at = now;
  if (bucket.chunks < 1.0) {
    char wait[32];
    std::snprintf(wait, sizeof wait, "%.3f", (1.0 - bucket.chunks) / rate_);
    throw LimitExceeded(Limit::kChunkRate,
                        "session " + session_id + " sent chunks faster than " +
                            std::to_string(static_cast<int64_t>(rate_)) +
                            " per second (--max-chunks-per-second); the chunk was not read, "
                            "retry in " + wait + " s");
  }
  bucket.chunks -= 1.0;
}

size_t ChunkRateLimiter::tracked() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return buckets_.size();
}

void ChunkRateLimiter::sweep(Clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) { return refilled(entry.second, now) >= burst_; });
  // Sweep again only after the table has doubled: amortised O(1) per take.
  sweep_at_ = std::max(kMinSweepSize, 2 * buckets_.size());
}

}  // namespace infini::server
