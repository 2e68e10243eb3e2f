// Sessions by id: the --max-sessions limits, lookup by tenant, paging, idle
// expiry, and which registered sessions hold a slot of the state budget.
// Every session belongs to a tenant (the caller's authenticated identity, ""
// when auth is off); lookups name the caller's tenant, and a session of
// another tenant is answered exactly as one that does not exist.
//
// Locking: one mutex guards the map, each entry's budget slot and every
// change of a session's `resident`. It is never held while a task runs, a
// snapshot is read or written, or a state is allocated; while it is held only
// StateBudget's lock is taken (slots given back), never the other way round.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "server/sessions/session.h"
#include "server/sessions/state_budget.h"

namespace infini::server {

struct SessionLimits {
  int64_t max_sessions = 1024;
  int64_t max_state_bytes = int64_t{8} << 30;
  int64_t max_sessions_per_tenant = 0;  // 0: no limit but max_sessions
};

class SessionRegistry {
 public:
  explicit SessionRegistry(const SessionLimits& limits);

  // Throws ServiceError(kLimit) when `tenant` may not have another session.
  void check_room(const std::string& tenant) const;
  // Registers `session` with its budget slot (none: it is registered as
  // evicted). Throws ServiceError: kSessionExists (the id is held), kLimit.
  void insert(const std::shared_ptr<Session>& session, StateBudget::Slot slot);
  // Throws ServiceError(kUnknownSession) naming the id, with the same
  // message whether the id does not exist or belongs to another tenant.
  std::shared_ptr<Session> get(const std::string& id, const std::string& tenant) const;
  // False (and nothing removed) when the id is unknown or another tenant's.
  // The session's slot goes back to the budget.
  bool remove(const std::string& id, const std::string& tenant);
  // Whether `session` is still registered (not removed or expired).
  bool holds(const std::shared_ptr<Session>& session) const;
  bool holds_id(const std::string& id) const;
  // Removes sessions unused since `cutoff` and in no call's hands; returns their ids.
  std::vector<std::string> expire(Clock::time_point cutoff);

  // Residency changes, from a task on the session's queue. mark_evicted
  // gives its slot back (the state's tensors are freed); mark_resident
  // keeps `slot` for it (a session removed meanwhile lets it go).
  void mark_evicted(Session& session);
  void mark_resident(Session& session, StateBudget::Slot slot);
  // The least recently used registered session that is resident, in no
  // call's hands, not `requester` and not in `tried`; null when none.
  std::shared_ptr<Session> eviction_candidate(const Session* requester,
                                              const std::set<const Session*>& tried) const;

  struct Page {
    std::vector<std::shared_ptr<Session>> sessions;
    std::string next_token;
  };
  // `tenant`'s sessions with id > page_token, in id order.
  Page list(int64_t page_size, const std::string& page_token, const std::string& tenant) const;
  // Every session of every tenant, in id order (persistence, metrics).
  std::vector<std::shared_ptr<Session>> all() const;

  int64_t count() const;
  int64_t resident_count() const;
  int64_t evicted_count() const;

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    StateBudget::Slot slot;  // held while the session is resident
  };
  void check_room_locked(const std::string& tenant) const;
  Entry* find_locked(const Session& session);

  const int64_t max_sessions_;
  const int64_t max_sessions_per_tenant_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> sessions_;
};

}  // namespace infini::server
