// Where each session's state lives: in memory under --max-state-bytes, in
// the snapshot store, or both. With --snapshot-dir, sessions are written
// through after each Ingest or Import (persist), and a session that would
// pass the budget first evicts the least recently used idle sessions to the
// store (snapshot made current, tensors freed, record kept for GetSession,
// ListSessions and the session limits); a call that needs an evicted
// session's state reloads it first (ensure_resident), evicting others in
// turn. Without a store the budget is RESOURCE_EXHAUSTED at once.
//
// A state is only touched by a task on its session's queue: an eviction runs
// as one (Scheduler::run_if_idle, on the calling thread, only when that queue
// is idle), and so does every reload. So no task ever sees a state change
// under it, and no thread waits for a worker (which, with every worker busy
// evicting, could wait for ever). This class holds no lock of its own: the
// registry's and the budget's are taken one at a time, never while a
// snapshot is read or written.
#pragma once

#include <memory>

#include "engine/model.h"
#include "server/scheduling/scheduler.h"
#include "server/sessions/session.h"
#include "server/sessions/session_registry.h"
#include "server/sessions/state_budget.h"

namespace infini::server {

class SessionPersistence;
class ServerMetrics;

class SessionResidency {
 public:
  // All four outlive it.
  SessionResidency(const Model& model, SessionRegistry& registry, StateBudget& budget);

  // Turned on once at start when snapshots are (--snapshot-dir), before any
  // call.
  void enable_snapshots(const SessionPersistence* persistence, Scheduler* scheduler,
                        ServerMetrics* metrics);
  bool durable() const { return persistence_ != nullptr; }
  const SessionPersistence* persistence() const { return persistence_; }
  Scheduler* scheduler() const { return scheduler_; }

  // One state's room: at once when the budget has it, otherwise after
  // evicting idle sessions, least recently used first (never `requester`).
  // Waits for no task. Throws ServiceError(kLimit) saying why when none can go.
  StateBudget::Slot reserve(const Session* requester);
  // Write-through: the session's snapshot, after a completed Ingest or an
  // Import; call from a task on its queue. If the session was removed while
  // it was written, the snapshot is removed again. A no-op without
  // snapshots, or for an evicted session (its snapshot is current). Throws
  // std::runtime_error saying where and why when it cannot be written; the
  // previous snapshot then stays.
  void persist(const std::shared_ptr<Session>& session) const;
  // Reloads an evicted session's state from its snapshot, making room first
  // (which may evict others); a no-op when resident. Call at the start of
  // every task on the session's queue that uses its state. Throws
  // ServiceError (kLimit: no room; kStateLost: unreadable snapshot).
  void ensure_resident(Session& session);

 private:
  // Writes `victim`'s snapshot and frees its state, as a task on its queue
  // run here. Busy (or gone): left as it is.
  enum class Eviction { kEvicted, kBusy, kWriteFailed };
  Eviction evict(const std::shared_ptr<Session>& victim);

  const Model& model_;
  SessionRegistry& registry_;
  StateBudget& budget_;
  // Set once by enable_snapshots, before any call.
  const SessionPersistence* persistence_ = nullptr;
  Scheduler* scheduler_ = nullptr;
  ServerMetrics* metrics_ = nullptr;
};

}  // namespace infini::server
