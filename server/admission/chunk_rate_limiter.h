// --max-chunks-per-second: a token bucket per session, refilled at the rate
// and holding at most one second's worth (the burst). A chunk over the rate
// is refused, not delayed: a reactor must never block a gRPC thread, and a
// client told how long to wait can back off on its own terms.
//
// Buckets live here, keyed by session id, rather than in Session: a full
// bucket is the same as no bucket, so buckets of sessions that went quiet
// (or were deleted) are swept away and the table stays bounded by the
// sessions actually sending.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace infini::server {

class ChunkRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // 0 turns the limit off.
  explicit ChunkRateLimiter(int64_t chunks_per_second);

  // Takes one chunk from the session's bucket. Throws
  // LimitExceeded(Limit::kChunkRate) naming the session and the wait.
  void take(const std::string& session_id, Clock::time_point now = Clock::now());

  bool enabled() const { return rate_ > 0; }
  size_t tracked() const;  // buckets held now

 private:
  struct Bucket {
    double chunks;  // available
    Clock::time_point at;
  };
  double refilled(const Bucket& bucket, Clock::time_point now) const;
  void sweep(Clock::time_point now);  // under mutex_

  const double rate_;
  const double burst_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  size_t sweep_at_;
};

}  // namespace infini::server
