// The server's metrics: every metric name lives in this file and
// metrics.cc, nowhere else. Families are registered once; request paths
// only touch the returned series (atomic updates, no allocation).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "server/admission/limit.h"
#include "server/metrics/metrics_registry.h"

namespace infini::server {

// Label names, shared by the registrations and the call sites.
inline constexpr const char* kMethodLabel = "method";
inline constexpr const char* kCodeLabel = "code";
inline constexpr const char* kLimitLabel = "limit";
inline constexpr const char* kReasonLabel = "reason";
// infini_auth_failures_total's reasons: no credentials; malformed or unknown
// token; a known token past its expiry.
inline constexpr const char* kAuthFailureMissing = "missing";
inline constexpr const char* kAuthFailureInvalid = "invalid";
inline constexpr const char* kAuthFailureExpired = "expired";

class ServerMetrics {
 public:
  ServerMetrics();
  ~ServerMetrics();  // out of line: Series is complete only in metrics.cc
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  MetricsRegistry& registry() { return registry_; }

  // Per RPC: requests by method and final code, latency by method and code.
  void record_rpc(const std::string& method, const std::string& code, double seconds);
  // Ingest: one chunk read into a session (tokens, engine seconds).
  void record_ingest_chunk(int64_t tokens, double seconds);
  // One segment folded into memory (all layers), seconds per segment.
  void record_segment_folds(int64_t segments, double seconds_total);
  // Generation: time to first token, tokens generated, seconds after the first token.
  void record_generation(double first_token_seconds, int64_t generated_tokens,
                         double decode_seconds);
  void set_queue_depth(int64_t depth);
  // A session's state evicted to disk under --max-state-bytes, and one
  // reloaded from disk (with the time the reload took).
  void record_session_eviction();
  void record_session_reload(double seconds);
  // A call refused as UNAUTHENTICATED; `reason` is one of kAuthFailure*.
  void record_auth_failure(const char* reason);
  // The configured limits, exported so that dashboards and alerts divide by
  // the limit the server really has rather than a number copied into them.
  struct Limits {
    int64_t queue_capacity = 0;
    int64_t max_sessions = 0;
    int64_t max_state_bytes = 0;
    int64_t max_streams = 0;
  };
  void set_limits(const Limits& limits);
  void add_in_flight(int64_t delta);
  // A request refused by one of the server's limits (counted once per call).
  void record_limit_hit(Limit limit);
  // Streaming calls open now, read at scrape time.
  void set_open_streams_source(std::function<int64_t()> source);

  // Session totals, refreshed at scrape time by the callback given here
  // (sessions, state bytes, KV-equivalent bytes).
  struct SessionTotals {
    int64_t sessions = 0;
    int64_t state_bytes = 0;
    int64_t kv_equivalent_bytes = 0;
    int64_t evicted_sessions = 0;  // of `sessions`: state on disk, not in state_bytes
  };
  void set_session_totals_source(std::function<SessionTotals()> source);

  // Prometheus text exposition (version 0.0.4), including process metrics.
  std::string render();

 private:
  MetricsRegistry registry_;
  // Series pointers owned by registry_.
  struct Series;
  std::unique_ptr<Series> series_;
  std::mutex session_totals_mutex_;  // guards session_totals_
  std::function<SessionTotals()> session_totals_;
  std::function<int64_t()> open_streams_;  // guarded by session_totals_mutex_
};

}  // namespace infini::server
