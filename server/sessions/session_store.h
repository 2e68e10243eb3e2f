// Where sessions' snapshots live, by session id: the one interface through
// which a session's durable copy is written, read, listed and removed
// (SessionPersistence holds one). FileSessionStore, the --snapshot-dir
// directory, is the implementation today; a store shared by several
// replicas plugs in here, so every method names its failure in words a
// log can carry and none assumes a local file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace infini::server {

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Replaces `session_id`'s snapshot with `bytes`, whole or not at all.
  // Throws std::runtime_error saying where and why; the previous snapshot
  // then stays.
  virtual void write(const std::string& session_id, std::string_view bytes) const = 0;
  // `session_id`'s snapshot; throws std::runtime_error saying where and why
  // (none, unreadable).
  virtual std::string read(const std::string& session_id) const = 0;
  // Forgets `session_id`'s snapshot, if any; failures are logged, not thrown
  // (the caller's session is gone either way).
  virtual bool remove(const std::string& session_id) const = 0;
  // Every session id with a snapshot, in order.
  virtual std::vector<std::string> ids() const = 0;
  // Where `session_id`'s snapshot lives, and where the store is, for messages.
  virtual std::string location(const std::string& session_id) const = 0;
  virtual std::string location() const = 0;
};

}  // namespace infini::server
