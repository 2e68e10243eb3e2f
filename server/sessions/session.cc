#include "server/sessions/session.h"

#include <random>

#include "server/service_error.h"

namespace infini::server {

std::string new_session_id() {
  // random_device reads the kernel's CSPRNG on Linux: ids are not guessable.
  static thread_local std::random_device device;
  static const char* kHex = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 4; ++i) {
    uint32_t word = device();
    for (int j = 0; j < 8; ++j) id[i * 8 + j] = kHex[(word >> (4 * j)) & 0xF];
  }
  return id;
}

Session::Session(std::string session_id, std::string session_tenant, Labels session_labels,
                 DocumentReader session_document, Clock::time_point created)
    : id(std::move(session_id)),
      tenant(std::move(session_tenant)),
      labels(std::move(session_labels)),
      created_at(created),
      document(std::move(session_document)) {
  touch();
  publish();
}

void Session::touch() {
  last_used_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     Clock::now().time_since_epoch())
                     .count();
}

void Session::publish() {
  tokens = document.tokens();
  segments = document.state().segments();
  pending_text_bytes = static_cast<int64_t>(document.encoder().pending_text().size());
}

Clock::time_point Session::last_used() const {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(last_used_ns.load())));
}

void release_state(SessionState& state) { std::vector<LayerState>().swap(state.layers()); }

namespace {

int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

SessionSnapshot snapshot_of(const Session& session) {
  if (!session.resident) {
    // Its tensors are gone: a snapshot now would hold no state.
    throw ServiceError(Fault::kStateLost,
                       "session " + session.id + " is evicted: reload it before its snapshot");
  }
  SessionSnapshot snap;
  snap.id = session.id;
  snap.tenant = session.tenant;
  snap.labels = session.labels;
  snap.created_at_ns = to_ns(session.created_at);
  snap.last_used_ns = session.last_used_ns.load();
  const DocumentReader& document = session.document;
  snap.tokens = document.state().tokens();
  snap.segments = document.state().segments();
  snap.state = document.state().to_host();
  snap.state.resize(snap.state.size() - 2);  // the counters, kept exactly above
  snap.pending_ids = document.pending_ids();
  snap.pending_text = document.encoder().pending_text();
  snap.pending_start = static_cast<uint8_t>(document.encoder().pending_start());
  const Utf8Validator::Result utf8 = document.utf8().state();
  snap.utf8_needed = utf8.needed;
  snap.utf8_lower = utf8.lower;
  snap.utf8_upper = utf8.upper;
  snap.utf8_offset = utf8.offset;
  return snap;
}

}  // namespace infini::server
