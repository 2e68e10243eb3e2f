#include "server/sessions/session_residency.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "server/admission/limit.h"
#include "server/metrics/metrics.h"
#include "server/service_error.h"
#include "server/sessions/session_logger.h"
#include "server/sessions/session_persistence.h"

namespace infini::server {

SessionResidency::SessionResidency(const Model& model, SessionRegistry& registry,
                                   StateBudget& budget)
    : model_(model), registry_(registry), budget_(budget) {}

void SessionResidency::enable_snapshots(const SessionPersistence* persistence,
                                        Scheduler* scheduler, ServerMetrics* metrics) {
  persistence_ = persistence;
  scheduler_ = scheduler;
  metrics_ = metrics;
}

StateBudget::Slot SessionResidency::reserve(const Session* requester) {
  std::set<const Session*> tried;  // each candidate once: the loop ends
  bool write_failed = false;
  for (;;) {
    if (auto slot = budget_.try_reserve()) return std::move(*slot);
    const int64_t in_memory = budget_.in_use();
    const int64_t state_bytes = budget_.state_bytes();
    const std::string limit = std::to_string(budget_.max_state_bytes());
    if (persistence_ == nullptr) {
      throw LimitExceeded(Limit::kStateBytes,
                          "state memory limit reached: " + std::to_string(in_memory) +
                              " sessions of " + std::to_string(state_bytes) +
                              " bytes; another would pass --max-state-bytes=" + limit +
                              " (set --snapshot-dir to evict idle sessions to disk)");
    }
    const std::shared_ptr<Session> victim = registry_.eviction_candidate(requester, tried);
    if (victim == nullptr) {
      throw LimitExceeded(
          Limit::kStateBytes,
          "state memory limit reached: all " + std::to_string(in_memory) +
              " sessions in memory (" + std::to_string(state_bytes) + " bytes each) are in use" +
              (write_failed ? " or their snapshots cannot be written (see the log)" : "") +
              ", none can be evicted to disk; another would pass --max-state-bytes=" + limit +
              ", retry later");
    }
    tried.insert(victim.get());
    // Busy or failed: the next candidate.
    write_failed |= evict(victim) == Eviction::kWriteFailed;
  }
}

void SessionResidency::persist(const std::shared_ptr<Session>& session) const {
  if (persistence_ == nullptr) return;
  // Evicted (between a call's tasks, by another's need for room): its state
  // is not in memory, and its snapshot, written at the eviction, is current.
  if (!session->resident) return;
  persistence_->write(snapshot_of(*session));
  // Removed while its snapshot was written (DeleteSession, expiry, a failed
  // Import): the snapshot must go too, or a restart would bring the session
  // back (found by the soak test). Checked after the write, so that one of
  // the two always removes last.
  if (!registry_.holds(session)) persistence_->remove(session->id);
}

SessionResidency::Eviction SessionResidency::evict(const std::shared_ptr<Session>& victim) {
  Eviction result = Eviction::kBusy;
  scheduler_->run_if_idle(victim->queue, [&] {
    // On the victim's queue: nothing else touches its state meanwhile.
    if (!victim->resident || victim->users.load() > 0 || !registry_.holds(victim)) return;
    try {
      persist(victim);  // deleted while it was written: persist removes the snapshot again
    } catch (const std::exception& e) {
      session_logger()->error("session {}: not evicted, its snapshot cannot be written: {}",
                              victim->id, e.what());
      result = Eviction::kWriteFailed;
      return;
    }
    // Removed meanwhile: a call that found it before may still run a task
    // on it, which must find its state in memory (the snapshot is gone).
    if (!registry_.holds(victim)) return;
    release_state(victim->document.state());
    registry_.mark_evicted(*victim);
    result = Eviction::kEvicted;
  });
  if (result == Eviction::kEvicted) {
    session_logger()->debug("session {} evicted to disk", victim->id);
    if (metrics_ != nullptr) metrics_->record_session_eviction();
  }
  return result;
}

void SessionResidency::ensure_resident(Session& session) {
  if (session.resident) return;  // stable here: only tasks on its queue change it
  const auto started = std::chrono::steady_clock::now();
  StateBudget::Slot slot = reserve(&session);
  SessionState state = model_.new_session();
  try {
    const SessionSnapshot snapshot = persistence_->read(session.id);
    state.restore(snapshot.state, snapshot.tokens, snapshot.segments);
  } catch (const std::exception& e) {
    throw ServiceError(Fault::kStateLost,
                       "session " + session.id +
                           " is evicted to disk and its snapshot cannot be reloaded: " + e.what());
  }
  session.document.state() = std::move(state);
  registry_.mark_resident(session, std::move(slot));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  session_logger()->debug("session {} reloaded from disk in {:.3f} s", session.id, seconds);
  if (metrics_ != nullptr) metrics_->record_session_reload(seconds);
}

}  // namespace infini::server
