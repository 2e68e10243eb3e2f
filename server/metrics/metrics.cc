#include "server/metrics/metrics.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <vector>

#include "server/metrics/process_metrics.h"

namespace infini::server {
namespace {

// RPC and ingest latencies: 1 ms .. 5 min in 1-2.5-5 steps (about x2.5).
const std::vector<double> kRequestSecondsBuckets = {0.001, 0.0025, 0.005, 0.01,  0.025, 0.05,
                                                    0.1,   0.25,   0.5,   1.0,   2.5,   5.0,
                                                    10.0,  25.0,   50.0,  100.0, 300.0};

// One segment folded through every layer: 100 us (a small model on a GPU)
// .. 10 s (a large model on a CPU).
const std::vector<double> kSegmentFoldSecondsBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

// vLLM's buckets, so dashboards and SLOs written for vLLM read the same.
const std::vector<double> kTimeToFirstTokenBuckets = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kTimePerOutputTokenBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                                        0.3,  0.4,   0.5,  0.75,  1.0, 2.5,  5.0,
                                                        7.5,  10.0,  20.0, 40.0,  80.0};

std::shared_ptr<spdlog::logger> server_logger() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("server");
  return logger ? logger : spdlog::default_logger();
}

}  // namespace

// Families and the unlabelled series, looked up once here so that the
// record_* calls are plain atomic updates.
struct ServerMetrics::Series {
  CounterFamily* rpc_requests;
  HistogramFamily* rpc_duration;

  Counter* ingested_tokens;
  Counter* ingest_chunks;
  Histogram* ingest_chunk_duration;

  Counter* segments_folded;
  Histogram* segment_fold_duration;

  Counter* generated_tokens;
  Counter* generation_requests;
  Histogram* time_to_first_token;
  Histogram* time_per_output_token;

  Gauge* sessions_active;
  Gauge* state_bytes;
  Gauge* kv_equivalent_bytes;
  Gauge* compression_ratio;
  Gauge* queue_depth;
  Gauge* requests_in_flight;

  Gauge* queue_capacity;
  Gauge* sessions_limit;
  Gauge* state_bytes_limit;

  Gauge* sessions_evicted;
  Counter* session_evictions;
  Counter* session_reloads;
  Histogram* session_reload_duration;

  CounterFamily* limit_hits;
  CounterFamily* auth_failures;
  Gauge* streams_open;
  Gauge* streams_limit;
};

ServerMetrics::ServerMetrics() : series_(std::make_unique<Series>()) {
  MetricsRegistry& r = registry_;
  Series& s = *series_;

  s.rpc_requests = &r.counter("infini_rpc_requests_total",
                              "RPCs finished, by method and final gRPC status code.",
                              {kMethodLabel, kCodeLabel});
  s.rpc_duration = &r.histogram("infini_rpc_duration_seconds",
                                "RPC latency from start to final status, by method and code.",
                                kRequestSecondsBuckets, {kMethodLabel, kCodeLabel});

  s.ingested_tokens =
      &r.counter("infini_ingested_tokens_total", "Document tokens ingested into sessions.").with();
  s.ingest_chunks =
      &r.counter("infini_ingest_chunks_total", "Ingest chunks processed by the engine.").with();
  s.ingest_chunk_duration =
      &r.histogram("infini_ingest_chunk_duration_seconds",
                   "Engine time to tokenize and process one ingest chunk.", kRequestSecondsBuckets)
           .with();

  s.segments_folded = &r.counter("infini_segments_folded_total",
                                 "Segments folded into compressive memory (all layers).")
                           .with();
  // Observed once per segment (the call's average, `segments` times), so
  // _count equals infini_segments_folded_total and _sum the fold time.
  s.segment_fold_duration = &r.histogram("infini_segment_fold_duration_seconds",
                                         "Time to fold one segment into memory through all "
                                         "layers (per-call average, observed per segment).",
                                         kSegmentFoldSecondsBuckets)
                                 .with();

  // Tokens per second is rate(infini_generated_tokens_total[1m]) in PromQL;
  // the server exports totals, never precomputed rates.
  s.generated_tokens =
      &r.counter("infini_generated_tokens_total", "Tokens generated (Ask, Summarize).").with();
  s.generation_requests =
      &r.counter("infini_generation_requests_total", "Generation requests finished.").with();
  s.time_to_first_token =
      &r.histogram("infini_time_to_first_token_seconds",
                   "Time from a generation request's arrival to its first token.",
                   kTimeToFirstTokenBuckets)
           .with();
  // Observed once per token after the first (the request's average), so
  // _count is the number of such tokens, as vLLM's per-token histogram.
  s.time_per_output_token =
      &r.histogram("infini_time_per_output_token_seconds",
                   "Decode time per output token after the first (per-request average, "
                   "observed per token).",
                   kTimePerOutputTokenBuckets)
           .with();

  s.sessions_active = &r.gauge("infini_sessions_active", "Sessions currently held.").with();
  s.state_bytes = &r.gauge("infini_state_bytes",
                           "Bytes of session state (memory, normaliser, partial "
                           "segment) over all sessions.")
                       .with();
  s.kv_equivalent_bytes =
      &r.gauge("infini_kv_equivalent_bytes",
               "Bytes a full KV cache would need for the tokens held by all sessions.")
           .with();
  s.compression_ratio =
      &r.gauge("infini_compression_ratio",
               "infini_kv_equivalent_bytes over the state of all sessions, in memory "
               "or evicted to disk; 0 when no session is in memory.")
           .with();
  s.queue_depth =
      &r.gauge("infini_queue_depth", "Engine requests admitted and waiting for a worker.").with();
  s.requests_in_flight =
      &r.gauge("infini_requests_in_flight", "RPCs currently being served.").with();

  s.queue_capacity =
      &r.gauge("infini_queue_capacity",
               "Engine requests that may wait (--queue-capacity); more are refused.")
           .with();
  s.sessions_limit =
      &r.gauge("infini_sessions_limit", "Sessions the server may hold (--max-sessions).").with();
  s.state_bytes_limit = &r.gauge("infini_state_bytes_limit",
                                 "Bytes of session state allowed over all sessions "
                                 "(--max-state-bytes).")
                             .with();

  s.limit_hits = &r.counter("infini_limit_hits_total",
                            "Requests refused by a server limit, by limit (streams, chunk_rate, "
                            "sessions, tenant_sessions, state_bytes, queue, max_tokens, "
                            "message_bytes).",
                            {kLimitLabel});
  // Every limit's series exists from the start, so rate() and alerts see a 0
  // rather than no data before the first refusal.
  for (Limit limit : kAllLimits) s.limit_hits->with({limit_name(limit)});
  s.auth_failures = &r.counter("infini_auth_failures_total",
                               "Calls refused as UNAUTHENTICATED, by reason (missing, invalid, "
                               "expired).",
                               {kReasonLabel});
  for (const char* reason : {kAuthFailureMissing, kAuthFailureInvalid, kAuthFailureExpired}) {
    s.auth_failures->with({reason});
  }
  s.streams_open = &r.gauge("infini_streams_open",
                            "Streaming calls (Ingest, Ask, Summarize, ...) open now.")
                        .with();
  s.streams_limit = &r.gauge("infini_streams_limit",
                             "Streaming calls that may be open at once (--max-streams).")
                         .with();

  // Eviction under --max-state-bytes (with --snapshot-dir).
  s.sessions_evicted =
      &r.gauge("infini_sessions_evicted",
               "Sessions whose state is evicted to the snapshot directory (counted in "
               "infini_sessions_active, not in infini_state_bytes).")
           .with();
  s.session_evictions = &r.counter("infini_session_evictions_total",
                                   "Idle sessions' states evicted to disk to stay within "
                                   "--max-state-bytes.")
                             .with();
  s.session_reloads =
      &r.counter("infini_session_reloads_total", "Evicted sessions' states reloaded from disk.")
           .with();
  s.session_reload_duration =
      &r.histogram("infini_session_reload_duration_seconds",
                   "Time to reload an evicted session's state, evictions it needed included.",
                   kRequestSecondsBuckets)
           .with();

  register_process_metrics(registry_);

  registry_.add_collect_hook([this] {
    std::function<SessionTotals()> source;
    {
      std::lock_guard lock(session_totals_mutex_);
      source = session_totals_;
    }
    std::function<int64_t()> open_streams;
    {
      std::lock_guard lock(session_totals_mutex_);
      open_streams = open_streams_;
    }
    if (open_streams) series_->streams_open->set(static_cast<double>(open_streams()));
    if (!source) return;
    SessionTotals totals;
    try {
      totals = source();
    } catch (const std::exception& e) {
      // A scrape must not fail because of one source: keep the last values.
      server_logger()->warn("metrics: session totals unavailable: {}", e.what());
      return;
    }
    Series& s = *series_;
    s.sessions_active->set(static_cast<double>(totals.sessions));
    s.state_bytes->set(static_cast<double>(totals.state_bytes));
    s.kv_equivalent_bytes->set(static_cast<double>(totals.kv_equivalent_bytes));
    s.sessions_evicted->set(static_cast<double>(totals.evicted_sessions));
    // Against the state of every session, evicted ones included (each holds
    // the same bytes, on disk): eviction moves state, it compresses nothing.
    const int64_t resident = totals.sessions - totals.evicted_sessions;
    const double all_state = resident > 0 ? static_cast<double>(totals.state_bytes) /
                                                static_cast<double>(resident) *
                                                static_cast<double>(totals.sessions)
                                          : 0.0;
    s.compression_ratio->set(
        all_state > 0 ? static_cast<double>(totals.kv_equivalent_bytes) / all_state : 0.0);
  });
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::record_auth_failure(const char* reason) {
  series_->auth_failures->with({reason}).inc();
}

void ServerMetrics::record_rpc(const std::string& method, const std::string& code, double seconds) {
  series_->rpc_requests->with({method, code}).inc();
  series_->rpc_duration->with({method, code}).observe(seconds);
}

void ServerMetrics::record_ingest_chunk(int64_t tokens, double seconds) {
  series_->ingested_tokens->inc(static_cast<double>(tokens));
  series_->ingest_chunks->inc();
  series_->ingest_chunk_duration->observe(seconds);
}

void ServerMetrics::record_segment_folds(int64_t segments, double seconds_total) {
  if (segments <= 0) return;
  series_->segments_folded->inc(static_cast<double>(segments));
  series_->segment_fold_duration->observe_n(seconds_total / static_cast<double>(segments),
                                            static_cast<uint64_t>(segments));
}

void ServerMetrics::record_generation(double first_token_seconds, int64_t generated_tokens,
                                      double decode_seconds) {
  series_->generation_requests->inc();
  // A request that ended before its first token has no time to first token.
  if (generated_tokens <= 0) return;
  series_->generated_tokens->inc(static_cast<double>(generated_tokens));
  series_->time_to_first_token->observe(first_token_seconds);
  if (generated_tokens > 1) {
    const uint64_t after_first = static_cast<uint64_t>(generated_tokens - 1);
    series_->time_per_output_token->observe_n(decode_seconds / static_cast<double>(after_first),
                                              after_first);
  }
}

void ServerMetrics::set_queue_depth(int64_t depth) {
  series_->queue_depth->set(static_cast<double>(depth));
}

void ServerMetrics::record_session_eviction() { series_->session_evictions->inc(); }

void ServerMetrics::record_session_reload(double seconds) {
  series_->session_reloads->inc();
  series_->session_reload_duration->observe(seconds);
}

void ServerMetrics::set_limits(const Limits& limits) {
  series_->queue_capacity->set(static_cast<double>(limits.queue_capacity));
  series_->sessions_limit->set(static_cast<double>(limits.max_sessions));
  series_->state_bytes_limit->set(static_cast<double>(limits.max_state_bytes));
  series_->streams_limit->set(static_cast<double>(limits.max_streams));
}

void ServerMetrics::add_in_flight(int64_t delta) {
  series_->requests_in_flight->add(static_cast<double>(delta));
}

void ServerMetrics::record_limit_hit(Limit limit) {
  series_->limit_hits->with({limit_name(limit)}).inc();
}

void ServerMetrics::set_open_streams_source(std::function<int64_t()> source) {
  std::lock_guard lock(session_totals_mutex_);
  open_streams_ = std::move(source);
}

void ServerMetrics::set_session_totals_source(std::function<SessionTotals()> source) {
  std::lock_guard lock(session_totals_mutex_);
  session_totals_ = std::move(source);
}

std::string ServerMetrics::render() { return registry_.render(); }

}  // namespace infini::server
