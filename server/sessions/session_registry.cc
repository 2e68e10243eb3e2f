#include "server/sessions/session_registry.h"

#include "server/admission/limit.h"
#include "server/service_error.h"

namespace infini::server {

SessionRegistry::SessionRegistry(const SessionLimits& limits)
    : max_sessions_(limits.max_sessions),
      max_sessions_per_tenant_(limits.max_sessions_per_tenant) {}

void SessionRegistry::check_room(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  check_room_locked(tenant);
}

void SessionRegistry::check_room_locked(const std::string& tenant) const {
  const int64_t n = static_cast<int64_t>(sessions_.size());
  if (n >= max_sessions_) {
    throw LimitExceeded(Limit::kSessions,
                        "session limit reached: " + std::to_string(n) + " of " +
                            std::to_string(max_sessions_) +
                            " sessions exist; delete some or raise --max-sessions");
  }
  if (max_sessions_per_tenant_ > 0) {
    // A scan, only when the limit is on: O(sessions) per creation, which is
    // small next to allocating a state.
    int64_t own = 0;
    for (const auto& [id, e] : sessions_) own += e.session->tenant == tenant ? 1 : 0;
    if (own >= max_sessions_per_tenant_) {
      // Names neither the tenant nor any session: the caller knows who it is.
      throw LimitExceeded(Limit::kTenantSessions,
                          "session limit of this tenant reached: " + std::to_string(own) + " of " +
                              std::to_string(max_sessions_per_tenant_) +
                              " sessions (--max-sessions-per-tenant); delete some");
    }
  }
  // --max-state-bytes counts resident states only: see StateBudget.
}

void SessionRegistry::insert(const std::shared_ptr<Session>& session, StateBudget::Slot slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (sessions_.count(session->id)) {
    throw ServiceError(Fault::kSessionExists, "session " + session->id + " already exists");
  }
  check_room_locked(session->tenant);
  session->resident = slot.held();
  sessions_[session->id] = Entry{session, std::move(slot)};
}

std::shared_ptr<Session> SessionRegistry::get(const std::string& id,
                                              const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(id);
  // Another tenant's session is "not found", word for word: the answer must
  // not tell a caller that the id exists.
  if (it == sessions_.end() || it->second.session->tenant != tenant) {
    throw ServiceError(Fault::kUnknownSession, "session '" + id + "' not found");
  }
  return it->second.session;
}

bool SessionRegistry::remove(const std::string& id, const std::string& tenant) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.session->tenant != tenant) return false;
  sessions_.erase(it);
  return true;
}

bool SessionRegistry::holds(const std::shared_ptr<Session>& session) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(session->id);
  return it != sessions_.end() && it->second.session == session;
}

bool SessionRegistry::holds_id(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.count(id) > 0;
}

std::vector<std::string> SessionRegistry::expire(Clock::time_point cutoff) {
  std::vector<std::string> expired;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    // A session with a stream open on it (a quiet Ingest) is in use.
    const Session& s = *it->second.session;
    if (s.last_used() < cutoff && s.users == 0) {
      expired.push_back(it->first);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

SessionRegistry::Entry* SessionRegistry::find_locked(const Session& session) {
  auto it = sessions_.find(session.id);
  return it != sessions_.end() && it->second.session.get() == &session ? &it->second : nullptr;
}

void SessionRegistry::mark_evicted(Session& session) {
  std::lock_guard<std::mutex> lock(mutex_);
  session.resident = false;  // registered or not: its tensors are gone
  if (Entry* e = find_locked(session)) e->slot.reset();
}

void SessionRegistry::mark_resident(Session& session, StateBudget::Slot slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  session.resident = true;
  if (Entry* e = find_locked(session)) e->slot = std::move(slot);
}

std::shared_ptr<Session> SessionRegistry::eviction_candidate(
    const Session* requester, const std::set<const Session*>& tried) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::shared_ptr<Session> victim;
  for (const auto& [id, e] : sessions_) {
    const auto& s = e.session;
    if (!s->resident || s.get() == requester || s->users.load() > 0 || tried.count(s.get())) {
      continue;
    }
    if (victim == nullptr || s->last_used_ns.load() < victim->last_used_ns.load()) victim = s;
  }
  return victim;
}

SessionRegistry::Page SessionRegistry::list(int64_t page_size, const std::string& page_token,
                                            const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Page page;
  auto it = page_token.empty() ? sessions_.begin() : sessions_.upper_bound(page_token);
  auto next_of_tenant = [&] {
    while (it != sessions_.end() && it->second.session->tenant != tenant) ++it;
  };
  for (next_of_tenant();
       it != sessions_.end() && static_cast<int64_t>(page.sessions.size()) < page_size;
       ++it, next_of_tenant()) {
    page.sessions.push_back(it->second.session);
  }
  if (it != sessions_.end() && !page.sessions.empty()) page.next_token = page.sessions.back()->id;
  return page;
}

std::vector<std::shared_ptr<Session>> SessionRegistry::all() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(sessions_.size());
  for (const auto& [id, e] : sessions_) out.push_back(e.session);
  return out;
}

int64_t SessionRegistry::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(sessions_.size());
}

int64_t SessionRegistry::resident_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t resident = 0;
  for (const auto& [id, e] : sessions_) resident += e.session->resident ? 1 : 0;
  return resident;
}

int64_t SessionRegistry::evicted_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t evicted = 0;
  for (const auto& [id, e] : sessions_) evicted += e.session->resident ? 0 : 1;
  return evicted;
}

}  // namespace infini::server
