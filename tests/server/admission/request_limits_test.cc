// The server's limits as units: stream slots, the per-session chunk rate,
// and how a refusal reads and is counted.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "server/admission/chunk_rate_limiter.h"
#include "server/admission/limit.h"
#include "server/admission/stream_slots.h"
#include "server/metrics/metrics.h"
#include "server/status.h"

namespace infini::server {
namespace {

using namespace std::chrono_literals;

TEST(StreamSlots, RefusesPastCapacityAndFreesOnRelease) {
  StreamSlots slots(2);
  auto a = slots.acquire();
  auto b = slots.acquire();
  EXPECT_EQ(slots.open(), 2);
  try {
    slots.acquire();
    FAIL() << "a third slot was granted";
  } catch (const LimitExceeded& e) {
    EXPECT_EQ(e.limit(), Limit::kStreams);
    EXPECT_EQ(status_code(e.fault()), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(std::string(e.what()).find("--max-streams"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 of 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slots.open(), 2);  // the refusal took nothing
  a.release();
  EXPECT_EQ(slots.open(), 1);
  auto c = slots.acquire();
  EXPECT_TRUE(c.held());
}

TEST(StreamSlots, MovedSlotIsReleasedOnce) {
  StreamSlots slots(1);
  {
    auto a = slots.acquire();
    StreamSlots::Slot b = std::move(a);
    EXPECT_FALSE(a.held());
    EXPECT_TRUE(b.held());
    EXPECT_EQ(slots.open(), 1);
    StreamSlots::Slot c;
    c = std::move(b);
    EXPECT_EQ(slots.open(), 1);
  }
  EXPECT_EQ(slots.open(), 0);
}

TEST(StreamSlots, ConcurrentAcquiresNeverPassCapacity) {
  StreamSlots slots(8);
  std::atomic<int> granted{0}, refused{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        try {
          auto slot = slots.acquire();
          ++granted;
          int now = static_cast<int>(slots.open());
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
        } catch (const LimitExceeded&) {
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted + refused, 8000);
  EXPECT_LE(peak.load(), 8);
  EXPECT_EQ(slots.open(), 0);
}

TEST(ChunkRateLimiter, OffByDefault) {
  ChunkRateLimiter limiter(0);
  EXPECT_FALSE(limiter.enabled());
  const auto now = ChunkRateLimiter::Clock::now();
  for (int i = 0; i < 100000; ++i) limiter.take("s", now);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(ChunkRateLimiter, AllowsABurstThenTheRate) {
  ChunkRateLimiter limiter(10);
  const auto t0 = ChunkRateLimiter::Clock::now();
  for (int i = 0; i < 10; ++i) limiter.take("s", t0);  // one second's worth at once
  try {
    limiter.take("s", t0);
    FAIL() << "the 11th chunk in the same instant was accepted";
  } catch (const LimitExceeded& e) {
    EXPECT_EQ(e.limit(), Limit::kChunkRate);
    EXPECT_EQ(status_code(e.fault()), grpc::StatusCode::RESOURCE_EXHAUSTED);
    const std::string what = e.what();
    EXPECT_NE(what.find("session s"), std::string::npos) << what;
    EXPECT_NE(what.find("--max-chunks-per-second"), std::string::npos) << what;
    EXPECT_NE(what.find("retry in 0.100 s"), std::string::npos) << what;
  }
  // A refused chunk takes nothing: 100 ms later exactly one more fits.
  limiter.take("s", t0 + 100ms);
  EXPECT_THROW(limiter.take("s", t0 + 100ms), LimitExceeded);
  // Other sessions have their own buckets.
  limiter.take("other", t0 + 100ms);
  // Refill stops at the burst: after a long pause, 10 again and not more.
  const auto later = t0 + 1h;
  for (int i = 0; i < 10; ++i) limiter.take("s", later);
  EXPECT_THROW(limiter.take("s", later), LimitExceeded);
}

TEST(ChunkRateLimiter, ARateBelowOneStillAllowsOneChunk) {
  ChunkRateLimiter limiter(1);
  const auto t0 = ChunkRateLimiter::Clock::now();
  limiter.take("s", t0);
  EXPECT_THROW(limiter.take("s", t0 + 500ms), LimitExceeded);
  limiter.take("s", t0 + 1s);
}

TEST(ChunkRateLimiter, QuietSessionsAreSweptSoTheTableStaysBounded) {
  ChunkRateLimiter limiter(5);
  const auto t0 = ChunkRateLimiter::Clock::now();
  for (int i = 0; i < 5000; ++i) limiter.take("session-" + std::to_string(i), t0);
  EXPECT_LE(limiter.tracked(), 5000u);
  // A second later every bucket is full again, the same as no bucket: the
  // next sweep drops them all.
  // (Sweeps run each time the table doubles: 5000 + 3200 passes 8192.)
  for (int i = 0; i < 3200; ++i) limiter.take("late-" + std::to_string(i), t0 + 2s);
  EXPECT_LE(limiter.tracked(), 3200u);
  // A session in the middle of its burst keeps its bucket through a sweep.
  ChunkRateLimiter busy(3);
  for (int i = 0; i < 3; ++i) busy.take("busy", t0);
  for (int i = 0; i < 3000; ++i) busy.take("x" + std::to_string(i), t0);
  EXPECT_THROW(busy.take("busy", t0), LimitExceeded);
}

TEST(LimitExceeded, MaxTokensIsABadArgumentOthersAreExhaustion) {
  EXPECT_EQ(status_code(LimitExceeded(Limit::kMaxTokens, "m").fault()), grpc::StatusCode::INVALID_ARGUMENT);
  for (Limit limit : kAllLimits) {
    if (limit == Limit::kMaxTokens) continue;
    EXPECT_EQ(status_code(LimitExceeded(limit, "m").fault()), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << limit_name(limit);
  }
}

TEST(LimitMetrics, EveryLimitIsExportedFromTheStartAndCounted) {
  ServerMetrics metrics;
  std::string text = metrics.render();
  for (Limit limit : kAllLimits) {
    const std::string series =
        std::string("infini_limit_hits_total{limit=\"") + limit_name(limit) + "\"} 0";
    EXPECT_NE(text.find(series), std::string::npos) << series;
  }
  metrics.record_limit_hit(Limit::kChunkRate);
  metrics.record_limit_hit(Limit::kChunkRate);
  metrics.set_limits({.queue_capacity = 1, .max_sessions = 2, .max_state_bytes = 3,
                      .max_streams = 7});
  int64_t open = 5;
  metrics.set_open_streams_source([&] { return open; });
  text = metrics.render();
  EXPECT_NE(text.find("infini_limit_hits_total{limit=\"chunk_rate\"} 2"), std::string::npos);
  EXPECT_NE(text.find("infini_streams_limit 7"), std::string::npos);
  EXPECT_NE(text.find("infini_streams_open 5"), std::string::npos);
}

}  // namespace
}  // namespace infini::server
