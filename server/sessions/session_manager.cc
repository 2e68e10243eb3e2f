#include "server/sessions/session_manager.h"

#include "server/service_error.h"
#include "server/sessions/session_persistence.h"

namespace infini::server {

SessionManager::SessionManager(std::shared_ptr<const Model> model,
                               std::shared_ptr<const Tokenizer> tokenizer, SessionLimits limits,
                               std::vector<PromptPiece> document_prefix)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      document_prefix_(std::move(document_prefix)),
      budget_(model_->new_session().state_bytes(), limits.max_state_bytes),
      registry_(limits),
      residency_(*model_, registry_, budget_) {}

std::shared_ptr<Session> SessionManager::create(const Labels& labels, const std::string& tenant) {
  registry_.check_room(tenant);  // refuse before allocating a state that would not fit
  StateBudget::Slot slot = residency_.reserve(nullptr);
  auto session = std::make_shared<Session>(new_session_id(), tenant, labels,
                                           DocumentReader(tokenizer_, model_->new_session()));
  if (!document_prefix_.empty()) {
    // Not yet shared with any other thread: no task needed.
    session->document.start(*model_, document_prefix_);
    session->publish();
  }
  registry_.insert(session, std::move(slot));
  return session;
}

std::shared_ptr<Session> SessionManager::fork(const Session& source, const Labels& labels,
                                              const std::string& tenant) {
  registry_.check_room(tenant);
  StateBudget::Slot slot = residency_.reserve(&source);
  auto copy =
      std::make_shared<Session>(new_session_id(), tenant, labels.empty() ? source.labels : labels,
                                source.document.fork());
  copy->publish();
  registry_.insert(copy, std::move(slot));
  return copy;
}

bool SessionManager::remove(const std::string& id, const std::string& tenant) {
  if (!registry_.remove(id, tenant)) return false;
  // After the registry: a store may be slow. A snapshot written meanwhile by
  // a task of the session is removed by that task (persist()).
  if (const SessionPersistence* persistence = residency_.persistence()) persistence->remove(id);
  return true;
}

std::shared_ptr<Session> SessionManager::restore(const SessionSnapshot& snap,
                                                 Residency residency) {
  // Refused before a state is allocated; insert() checks again.
  if (registry_.holds_id(snap.id)) {
    throw ServiceError(Fault::kSessionExists, "session " + snap.id + " already exists");
  }
  registry_.check_room(snap.tenant);
  StateBudget::Slot slot;  // none: registered as evicted
  if (residency == Residency::kResident) {
    slot = residency_.reserve(nullptr);
  } else if (auto room = budget_.try_reserve()) {
    slot = std::move(*room);
  }
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
  if (!slot.held()) release_state(session->document.state());  // the store holds the state
  registry_.insert(session, std::move(slot));
  return session;
}

std::vector<std::string> SessionManager::expire_idle(std::chrono::seconds idle) {
  std::vector<std::string> expired = registry_.expire(Clock::now() - idle);
  if (const SessionPersistence* persistence = residency_.persistence()) {
    for (const auto& id : expired) persistence->remove(id);
  }
  return expired;
}

int64_t SessionManager::total_kv_equivalent_bytes() const {
  int64_t total = 0;
  for (const auto& s : registry_.all()) {
    total += model_->config().kv_cache_bytes(s->tokens.load(), 2);
  }
  return total;
}

}  // namespace infini::server
