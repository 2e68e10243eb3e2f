// Durable sessions: a session's snapshot is written after every completed
// Ingest and at a clean shutdown, and every usable snapshot is restored when
// the server starts. Snapshots the server cannot use (damaged, another model,
// a newer format) are reported and left where they are, never deleted.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "server/scheduling/scheduler.h"
#include "server/sessions/session_manager.h"
#include "server/sessions/snapshot_store.h"

namespace infini::server {

class SessionPersistence {
 public:
  SessionPersistence(std::filesystem::path dir, std::string model_identity);

  // Writes `session`'s snapshot; call from a task on its queue. An evicted
  // session's file is current already: nothing is written. Throws
  // std::runtime_error with the path and reason; the previous snapshot stays.
  void write(const SessionManager& sessions, const Session& session) const;
  // `session_id`'s snapshot, checked (an evicted session's state). Throws
  // SnapshotError or std::runtime_error naming the file and reason.
  SessionSnapshot read(const std::string& session_id) const;
  // Forgets a deleted or expired session.
  void remove(const std::string& session_id) const;

  struct Skipped {
    std::filesystem::path path;
    std::string reason;
  };
  struct RestoreReport {
    int restored = 0;
    int evicted = 0;  // of `restored`: past --max-state-bytes, left on disk until used
    std::vector<Skipped> skipped;
  };
  // Restores every snapshot in the directory into `sessions`: in memory
  // while --max-state-bytes has room, registered as evicted after that.
  RestoreReport restore_all(SessionManager& sessions) const;

  // Writes every session, each on its own queue (after the server stopped
  // taking calls); returns how many were written before `deadline` passed.
  // An evicted session's snapshot is current already and counts as written.
  // Failures are logged and counted as not written.
  int write_all(SessionManager& sessions, Scheduler& scheduler,
                std::chrono::milliseconds deadline) const;

  const std::filesystem::path& dir() const { return store_.dir(); }

 private:
  SnapshotStore store_;
  std::string model_identity_;
};

}  // namespace infini::server
