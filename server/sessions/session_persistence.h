// Durable sessions: a session's snapshot is written after every completed
// Ingest and at a clean shutdown, and every usable snapshot is restored when
// the server starts (SessionManager: persist, persist_all, restore_all).
// Snapshots the server cannot use (damaged, another model, a newer format)
// are reported and left where they are, never deleted.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/sessions/session_snapshot.h"
#include "server/sessions/session_store.h"

namespace infini::server {

// Snapshots in a store: the codec (session_snapshot.h) with the model's
// identity, over a SessionStore. It knows nothing of the registry: only
// SessionManager calls it (persist, restore_all, persist_all, eviction).
class SessionPersistence {
 public:
  // Snapshots of sessions computed with the weights `model_identity` names,
  // kept in `store`.
  SessionPersistence(std::unique_ptr<SessionStore> store, std::string model_identity);

  // Throws std::runtime_error saying where and why; the previous snapshot
  // then stays.
  void write(const SessionSnapshot& snapshot) const;
  // `session_id`'s snapshot, checked (an evicted session's state, a restore
  // at start). Throws SnapshotError or std::runtime_error saying where and
  // why, also when it holds another session than its key says.
  SessionSnapshot read(const std::string& session_id) const;
  // Forgets a deleted or expired session.
  void remove(const std::string& session_id) const;
  // Every session id with a snapshot.
  std::vector<std::string> ids() const { return store_->ids(); }

  const SessionStore& store() const { return *store_; }

 private:
  std::unique_ptr<SessionStore> store_;
  std::string model_identity_;
};

}  // namespace infini::server
