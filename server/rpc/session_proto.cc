#include "server/rpc/session_proto.h"

#include <chrono>

namespace infini::server {

namespace {

void set_time(Clock::time_point t, google::protobuf::Timestamp* out) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

}  // namespace

void fill_session_proto(const Session& session, const SessionManager& sessions,
                        const std::string& model_name, v1::Session* out) {
  out->set_id(session.id);
  out->set_model(model_name);
  const int64_t tokens = session.tokens.load();
  out->set_tokens(tokens);
  out->set_segments(session.segments.load());
  const int64_t state = sessions.state_bytes_per_session();
  const int64_t kv = sessions.model().config().kv_cache_bytes(tokens, 2);
  out->set_state_bytes(state);
  out->set_kv_equivalent_bytes(kv);
  out->set_compression_ratio(state > 0 ? static_cast<double>(kv) / static_cast<double>(state) : 0.0);
  set_time(session.created_at, out->mutable_created_at());
  set_time(session.last_used(), out->mutable_last_used_at());
  for (const auto& [k, v] : session.labels) (*out->mutable_labels())[k] = v;
  out->set_pending_text_bytes(session.pending_text_bytes.load());
  out->set_evicted(!session.resident.load());
}

}  // namespace infini::server
