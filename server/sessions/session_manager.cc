#include "server/sessions/session_manager.h"

#include <random>

#include "server/admission/limit.h"
#include "server/sessions/session_persistence.h"
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

SessionManager::SessionManager(std::shared_ptr<const Model> model,
                               std::shared_ptr<const Tokenizer> tokenizer, SessionLimits limits,
                               std::vector<PromptPiece> document_prefix)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      limits_(limits),
      document_prefix_(std::move(document_prefix)),
      state_bytes_(model_->new_session().state_bytes()) {}

void SessionManager::check_room(const std::string& tenant) const {
  const int64_t n = static_cast<int64_t>(sessions_.size());
  if (n >= limits_.max_sessions) {
    throw LimitExceeded(Limit::kSessions,
                        "session limit reached: " + std::to_string(n) + " of " +
                            std::to_string(limits_.max_sessions) +
                            " sessions exist; delete some or raise --max-sessions");
  }
  if (limits_.max_sessions_per_tenant > 0) {
    // A scan, only when the limit is on: O(sessions) per creation, which is
    // small next to allocating a state.
    int64_t own = 0;
    for (const auto& [id, s] : sessions_) own += s->tenant == tenant ? 1 : 0;
    if (own >= limits_.max_sessions_per_tenant) {
      // Names neither the tenant nor any session: the caller knows who it is.
      throw LimitExceeded(Limit::kTenantSessions,
                          "session limit of this tenant reached: " + std::to_string(own) + " of " +
                              std::to_string(limits_.max_sessions_per_tenant) +
                              " sessions (--max-sessions-per-tenant); delete some");
    }
  }
  // --max-state-bytes counts resident states only: see reserve_state().
}

std::shared_ptr<Session> SessionManager::insert(std::shared_ptr<Session> session,
                                                StateSlot& slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_room(session->tenant);
  sessions_[session->id] = session;
  if (session->resident) slot.take();
  return session;
}

std::shared_ptr<Session> SessionManager::create(const Labels& labels, const std::string& tenant) {
  {
    // Refuse before allocating a state that would not fit.
    std::lock_guard<std::mutex> lock(mutex_);
    check_room(tenant);
  }
  StateSlot slot = reserve_state(nullptr);
  auto session = std::make_shared<Session>(new_session_id(), tenant, labels,
                                           DocumentReader(tokenizer_, model_->new_session()));
  if (!document_prefix_.empty()) {
    // Not yet shared with any other thread: no task needed.
    session->document.start(*model_, document_prefix_);
    session->publish();
  }
  return insert(std::move(session), slot);
}

std::shared_ptr<Session> SessionManager::fork(const Session& source, const Labels& labels,
                                              const std::string& tenant) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    check_room(tenant);
  }
  StateSlot slot = reserve_state(&source);
  auto copy =
      std::make_shared<Session>(new_session_id(), tenant, labels.empty() ? source.labels : labels,
                                source.document.fork());
  copy->publish();
  return insert(std::move(copy), slot);
}

std::shared_ptr<Session> SessionManager::get(const std::string& id,
                                             const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(id);
  // Another tenant's session is "not found", word for word: the answer must
  // not tell a caller that the id exists.
  if (it == sessions_.end() || it->second->tenant != tenant) {
    throw ServiceError(Fault::kUnknownSession, "session '" + id + "' not found");
  }
  return it->second;
}

bool SessionManager::remove(const std::string& id, const std::string& tenant) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->tenant != tenant) return false;
    sessions_.erase(it);
  }
  // Outside the lock: a store may be slow. A snapshot written meanwhile by
  // a task of the session is removed by that task (persist()).
  if (persistence_ != nullptr) persistence_->remove(id);
  return true;
}

bool SessionManager::holds(const std::shared_ptr<Session>& session) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(session->id);
  return it != sessions_.end() && it->second == session;
}

std::vector<std::shared_ptr<Session>> SessionManager::all() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) out.push_back(s);
  return out;
}

namespace {

int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

SessionSnapshot SessionManager::snapshot_of(const Session& session) const {
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

std::shared_ptr<Session> SessionManager::restore(const SessionSnapshot& snap,
                                                 Residency residency) {
  StateSlot slot(nullptr);  // none: registered as evicted
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (sessions_.count(snap.id)) {
      throw ServiceError(Fault::kSessionExists, "session " + snap.id + " already exists");
    }
    check_room(snap.tenant);
    if (residency == Residency::kIfRoom &&
        (resident_locked() + 1) * state_bytes_ <= limits_.max_state_bytes) {
      ++reserved_;
      slot = StateSlot(this);
    }
  }
  if (residency == Residency::kResident) slot = reserve_state(nullptr);
  SessionState state = model_->new_session();
  state.restore(snap.state, snap.tokens, snap.segments);
  const Clock::time_point created(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(snap.created_at_ns)));
  DocumentReader document(tokenizer_, std::move(state));
  document.restore_pending(snap.pending_ids, snap.pending_text,
                           static_cast<StreamingEncoder::PendingStart>(snap.pending_start),
                           {std::nullopt, snap.utf8_needed, snap.utf8_lower, snap.utf8_upper,
                            snap.utf8_offset});
  auto session = std::make_shared<Session>(
      snap.id, snap.tenant, Labels(snap.labels.begin(), snap.labels.end()), std::move(document),
      created);
  session->last_used_ns = snap.last_used_ns;
  session->publish();  // the counts stay right after the tensors go
  if (!slot.held()) {
    release_state(session->document.state());  // its snapshot on disk is the state
    session->resident = false;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (sessions_.count(snap.id)) {
    throw ServiceError(Fault::kSessionExists, "session " + snap.id + " already exists");
  }
  check_room(snap.tenant);
  sessions_[snap.id] = session;
  if (session->resident) slot.take();
  return session;
}

SessionManager::Page SessionManager::list(int64_t page_size, const std::string& page_token,
                                          const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Page page;
  auto it = page_token.empty() ? sessions_.begin() : sessions_.upper_bound(page_token);
  auto next_of_tenant = [&] {
    while (it != sessions_.end() && it->second->tenant != tenant) ++it;
  };
  for (next_of_tenant(); it != sessions_.end() && static_cast<int64_t>(page.sessions.size()) < page_size;
       ++it, next_of_tenant()) {
    page.sessions.push_back(it->second);
  }
  if (it != sessions_.end() && !page.sessions.empty()) page.next_token = page.sessions.back()->id;
  return page;
}

std::vector<std::string> SessionManager::expire_idle(std::chrono::seconds idle) {
  const auto cutoff = Clock::now() - idle;
  std::vector<std::string> expired;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      // A session with a stream open on it (a quiet Ingest) is in use.
      if (it->second->last_used() < cutoff && it->second->users == 0) {
        expired.push_back(it->first);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (persistence_ != nullptr) {
    for (const auto& id : expired) persistence_->remove(id);
  }
  return expired;
}

int64_t SessionManager::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(sessions_.size());
}

int64_t SessionManager::total_kv_equivalent_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t total = 0;
  for (const auto& [id, s] : sessions_) total += model_->config().kv_cache_bytes(s->tokens.load(), 2);
  return total;
}

}  // namespace infini::server
