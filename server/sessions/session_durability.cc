// Durable sessions, the registry's side (the store's is SessionPersistence;
// write-through after each Ingest or Import is SessionResidency::persist):
// every session at shutdown, every usable snapshot at start. Each write runs as a task on the
// session's queue, so no other task changes the state while it is encoded.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <memory>
#include <mutex>

#include "server/sessions/session_logger.h"
#include "server/sessions/session_manager.h"
#include "server/sessions/session_persistence.h"

namespace infini::server {

int SessionManager::persist_all(std::chrono::milliseconds deadline) const {
  Scheduler* scheduler = residency_.scheduler();
  if (!durable()) return 0;
  struct Progress {
    std::mutex mutex;
    std::condition_variable done;
    int pending = 0;
    int written = 0;
  };
  auto progress = std::make_shared<Progress>();
  for (const auto& session : all()) {
    {
      std::lock_guard lock(progress->mutex);
      ++progress->pending;
    }
    const bool queued = scheduler->submit(session->queue, [this, session, progress] {
      bool ok = false;
      try {
        persist(session);  // an evicted one's snapshot is current: not rewritten
        ok = true;
      } catch (const std::exception& e) {
        session_logger()->error("session {}: snapshot not written at shutdown: {}", session->id,
                                e.what());
      }
      std::lock_guard lock(progress->mutex);
      --progress->pending;
      if (ok) ++progress->written;
      progress->done.notify_all();
    });
    if (!queued) {
      session_logger()->error("session {}: snapshot not written at shutdown: engine queue full",
                              session->id);
      std::lock_guard lock(progress->mutex);
      --progress->pending;
    }
  }
  std::unique_lock lock(progress->mutex);
  progress->done.wait_for(lock, deadline, [&] { return progress->pending == 0; });
  return progress->written;
}

SessionManager::RestoreReport SessionManager::restore_all() {
  RestoreReport report;
  const SessionPersistence* persistence = residency_.persistence();
  if (persistence == nullptr) return report;
  for (const auto& id : persistence->ids()) {
    try {
      const auto session = restore(persistence->read(id), Residency::kIfRoom);
      ++report.restored;
      if (!session->resident) ++report.evicted;
    } catch (const std::exception& e) {
      report.skipped.push_back({persistence->store().location(id), e.what()});
    }
  }
  return report;
}

}  // namespace infini::server
