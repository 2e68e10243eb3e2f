// Durable sessions: a session's snapshot is written after every completed
// Ingest and at a clean shutdown, and every usable snapshot is restored when
// the server starts. Snapshots the server cannot use (damaged, another model,
// a newer format) are reported and left where they are, never deleted.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "server/scheduler.h"
#include "server/session_manager.h"
#include "server/snapshot_store.h"

namespace infini::server {

class SessionPersistence {
 public:
  SessionPersistence(std::filesystem::path dir, std::string model_identity);

  // Writes `session`'s snapshot; call from a task on its queue. Throws
  // std::runtime_error with the path and reason; the previous snapshot stays.
  void write(const SessionManager& sessions, const Session& session) const;
  // Forgets a deleted or expired session.
  void remove(const std::string& session_id) const;

  struct Skipped {
    std::filesystem::path path;
    std::string reason;
  };
  struct RestoreReport {
    int restored = 0;
    std::vector<Skipped> skipped;
  };
  // Restores every snapshot in the directory into `sessions`.
  RestoreReport restore_all(SessionManager& sessions) const;

  // Writes every session, each on its own queue (after the server stopped
  // taking calls); returns how many were written before `deadline` passed.
  // Failures are logged and counted as not written.
  int write_all(SessionManager& sessions, Scheduler& scheduler,
                std::chrono::milliseconds deadline) const;

  const std::filesystem::path& dir() const { return store_.dir(); }

 private:
  SnapshotStore store_;
  std::string model_identity_;
};

}  // namespace infini::server
