#include "server/sessions/session_persistence.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <memory>
#include <mutex>

namespace infini::server {
namespace {

std::shared_ptr<spdlog::logger> session_logger() {
  auto logger = spdlog::get("session");
  return logger ? logger : spdlog::default_logger();
}

}  // namespace

SessionPersistence::SessionPersistence(std::filesystem::path dir, std::string model_identity)
    : store_(std::move(dir)), model_identity_(std::move(model_identity)) {}

void SessionPersistence::write(const SessionManager& sessions, const Session& session) const {
  // Evicted (between a call's tasks, by another's need for room): its state
  // is not in memory, and its file, written at the eviction, is current.
  if (!session.resident) return;
  store_.write(session.id, encode_snapshot(sessions.snapshot_of(session), model_identity_));
}

SessionSnapshot SessionPersistence::read(const std::string& session_id) const {
  const auto path = store_.path_of(session_id);
  SessionSnapshot snapshot = decode_snapshot(SnapshotStore::read(path), model_identity_);
  if (snapshot.id != session_id) {
    throw std::runtime_error(path.string() + " holds session " + snapshot.id +
                             ", not the one its name says");
  }
  return snapshot;
}

void SessionPersistence::remove(const std::string& session_id) const { store_.remove(session_id); }

SessionPersistence::RestoreReport SessionPersistence::restore_all(SessionManager& sessions) const {
  RestoreReport report;
  for (const auto& path : store_.list()) {
    try {
      const SessionSnapshot snapshot = decode_snapshot(SnapshotStore::read(path), model_identity_);
      if (path.stem().string() != snapshot.id) {
        throw std::runtime_error("holds session " + snapshot.id + ", not the one its name says");
      }
      const auto session = sessions.restore(snapshot, SessionManager::Residency::kIfRoom);
      ++report.restored;
      if (!session->resident) ++report.evicted;
    } catch (const std::exception& e) {
      report.skipped.push_back({path, e.what()});
    }
  }
  return report;
}

int SessionPersistence::write_all(SessionManager& sessions, Scheduler& scheduler,
                                  std::chrono::milliseconds deadline) const {
  struct Progress {
    std::mutex mutex;
    std::condition_variable done;
    int pending = 0;
    int written = 0;
  };
  auto progress = std::make_shared<Progress>();
  const auto all = sessions.all();
  for (const auto& session : all) {
    {
      std::lock_guard lock(progress->mutex);
      ++progress->pending;
    }
    const bool queued = scheduler.submit(session->queue, [this, &sessions, session, progress] {
      bool ok = false;
      try {
        write(sessions, *session);  // an evicted one's file is current: not rewritten
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

}  // namespace infini::server
