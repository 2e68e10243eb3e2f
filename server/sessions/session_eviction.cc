// SessionManager's residency: with --snapshot-dir, a session that would pass
// --max-state-bytes first evicts the least recently used idle sessions to
// disk (their snapshot made current, their state freed, their record kept
// for GetSession / ListSessions and the session limits); a call that needs an
// evicted session's state reloads it first, evicting others in turn.
//
// Locking (see session_manager.h): mutex_ guards the map, reserved_ and every
// change of `resident`, and is never held while a snapshot is read or
// written. A state is only touched by a task on its session's queue: the
// eviction runs as one (Scheduler::run_if_idle, on the calling thread, and
// only when that queue is idle), and so does every reload (ensure_resident).
// So no task ever sees a state change under it, and no thread waits for a
// worker (which, with every worker busy evicting, could wait for ever).
#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "server/admission/limit.h"
#include "server/metrics/metrics.h"
#include "server/sessions/session_logger.h"
#include "server/sessions/session_manager.h"
#include "server/sessions/session_persistence.h"
#include "server/service_error.h"

namespace infini::server {

void release_state(SessionState& state) { std::vector<LayerState>().swap(state.layers()); }

SessionManager::StateSlot::~StateSlot() {
  if (owner_ == nullptr) return;
  std::lock_guard<std::mutex> lock(owner_->mutex_);
  --owner_->reserved_;
}

void SessionManager::StateSlot::take() {
  if (owner_ == nullptr) return;
  --owner_->reserved_;  // the session's `resident` counts it from now on
  owner_ = nullptr;
}

void SessionManager::enable_snapshots(const SessionPersistence* persistence, Scheduler* scheduler,
                                      ServerMetrics* metrics) {
  std::lock_guard<std::mutex> lock(mutex_);
  persistence_ = persistence;
  scheduler_ = scheduler;
  metrics_ = metrics;
}

int64_t SessionManager::resident_locked() const {
  int64_t resident = reserved_;
  for (const auto& [id, s] : sessions_) resident += s->resident ? 1 : 0;
  return resident;
}

int64_t SessionManager::resident_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t resident = 0;
  for (const auto& [id, s] : sessions_) resident += s->resident ? 1 : 0;
  return resident;
}

int64_t SessionManager::evicted_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t evicted = 0;
  for (const auto& [id, s] : sessions_) evicted += s->resident ? 0 : 1;
  return evicted;
}

SessionManager::StateSlot SessionManager::reserve_state(const Session* requester) {
  std::set<const Session*> tried;  // each candidate once: the loop ends
  bool write_failed = false;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const int64_t resident = resident_locked();
    if ((resident + 1) * state_bytes_ <= limits_.max_state_bytes) {
      ++reserved_;
      return StateSlot(this);
    }
    if (persistence_ == nullptr) {
      throw LimitExceeded(Limit::kStateBytes,
                          "state memory limit reached: " + std::to_string(resident) +
                              " sessions of " + std::to_string(state_bytes_) +
                              " bytes; another would pass --max-state-bytes=" +
                              std::to_string(limits_.max_state_bytes) +
                              " (set --snapshot-dir to evict idle sessions to disk)");
    }
    std::shared_ptr<Session> victim;
    for (const auto& [id, s] : sessions_) {
      if (!s->resident || s.get() == requester || s->users.load() > 0 || tried.count(s.get())) {
        continue;
      }
      if (victim == nullptr || s->last_used_ns.load() < victim->last_used_ns.load()) victim = s;
    }
    if (victim == nullptr) {
      throw LimitExceeded(
          Limit::kStateBytes,
          "state memory limit reached: all " + std::to_string(resident) + " sessions in memory (" +
              std::to_string(state_bytes_) + " bytes each) are in use" +
              (write_failed ? " or their snapshots cannot be written (see the log)" : "") +
              ", none can be evicted to disk; another would pass "
              "--max-state-bytes=" +
              std::to_string(limits_.max_state_bytes) + ", retry later");
    }
    tried.insert(victim.get());
    lock.unlock();
    // Busy or failed: the next candidate.
    write_failed |= evict(victim) == Eviction::kWriteFailed;
    lock.lock();
  }
}

SessionManager::Eviction SessionManager::evict(const std::shared_ptr<Session>& victim) {
  Eviction result = Eviction::kBusy;
  scheduler_->run_if_idle(victim->queue, [&] {
    // On the victim's queue: nothing else touches its state meanwhile.
    if (!victim->resident || victim->users.load() > 0 || !holds(victim)) return;
    try {
      persist(victim);  // deleted while it was written: persist removes the snapshot again
    } catch (const std::exception& e) {
      session_logger()->error("session {}: not evicted, its snapshot cannot be written: {}",
                              victim->id, e.what());
      result = Eviction::kWriteFailed;
      return;
    }
    if (!holds(victim)) return;
    release_state(victim->document.state());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      victim->resident = false;
    }
    result = Eviction::kEvicted;
  });
  if (result == Eviction::kEvicted) {
    session_logger()->debug("session {} evicted to disk", victim->id);
    if (metrics_ != nullptr) metrics_->record_session_eviction();
  }
  return result;
}

void SessionManager::ensure_resident(Session& session) {
  if (session.resident) return;  // stable here: only tasks on its queue change it
  const auto started = std::chrono::steady_clock::now();
  StateSlot slot = reserve_state(&session);
  SessionState state = model_->new_session();
  try {
    const SessionSnapshot snapshot = persistence_->read(session.id);
    state.restore(snapshot.state, snapshot.tokens, snapshot.segments);
  } catch (const std::exception& e) {
    throw ServiceError(Fault::kStateLost,
                       "session " + session.id +
                           " is evicted to disk and its snapshot cannot be reloaded: " + e.what());
  }
  session.document.state() = std::move(state);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    session.resident = true;
    slot.take();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  session_logger()->debug("session {} reloaded from disk in {:.3f} s", session.id, seconds);
  if (metrics_ != nullptr) metrics_->record_session_reload(seconds);
}

}  // namespace infini::server
