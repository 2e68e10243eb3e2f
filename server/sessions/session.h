// One session: a document read so far into the engine's state, owned by a
// tenant, worked on one task at a time on its own SerialQueue. What other
// threads read (counts, times, residency) are atomics published after each
// task.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "engine/document_reader.h"
#include "server/scheduling/scheduler.h"
#include "server/sessions/session_snapshot.h"

namespace infini::server {

using Clock = std::chrono::system_clock;
using Labels = std::map<std::string, std::string>;

struct Session {
  Session(std::string id, std::string tenant, Labels labels, DocumentReader document,
          Clock::time_point created = Clock::now());

  const std::string id;
  const std::string tenant;  // its owner; "" when auth is off
  const Labels labels;
  const Clock::time_point created_at;
  const std::shared_ptr<SerialQueue> queue = std::make_shared<SerialQueue>();

  // Owned by the task running on `queue`: the document read so far (its
  // state holds whole segments only; see engine/document_reader.h).
  DocumentReader document;

  // Published after each task for readers on other threads.
  std::atomic<int64_t> tokens{0};
  std::atomic<int64_t> segments{0};
  std::atomic<int64_t> pending_text_bytes{0};
  std::atomic<int64_t> last_used_ns{0};

  // Whether the state's tensors are in memory (see session_residency.h).
  // Changes only in a task on `queue`, under SessionRegistry's lock, so a
  // task on `queue` sees it stable; other threads read it (GetSession). An
  // evicted session keeps everything but its state's tensors in memory.
  std::atomic<bool> resident{true};
  // Calls holding the session between tasks (an open Ingest stream, an
  // Export): a session with any is never chosen for eviction nor expired.
  // Counted by SessionUser, never by hand.
  std::atomic<int> users{0};

  void touch();
  void publish();  // copies the document's counts into the atomics
  Clock::time_point last_used() const;
};

// A call's hold on a session between its tasks (Session::users), for as
// long as the guard lives: the reactor's, so released when the call is done.
class SessionUser {
 public:
  SessionUser() = default;
  explicit SessionUser(std::shared_ptr<Session> session) : session_(std::move(session)) {
    if (session_ != nullptr) ++session_->users;
  }
  SessionUser(SessionUser&& other) noexcept : session_(std::move(other.session_)) {}
  SessionUser& operator=(SessionUser&& other) noexcept {
    if (this != &other) {
      release();
      session_ = std::move(other.session_);
    }
    return *this;
  }
  SessionUser(const SessionUser&) = delete;
  SessionUser& operator=(const SessionUser&) = delete;
  ~SessionUser() { release(); }

 private:
  void release() {
    if (session_ != nullptr) --session_->users;
    session_.reset();
  }
  std::shared_ptr<Session> session_;
};

// The session's durable form, tenant included; call from a task on its
// queue. Throws ServiceError(kStateLost) for an evicted session (its
// tensors are not in memory).
SessionSnapshot snapshot_of(const Session& session);

// Frees `state`'s tensors (an evicted session's); its counts stay. Only a
// state assigned anew (model.new_session() + restore) may be used again.
void release_state(SessionState& state);

// A random 128-bit id, 32 hex digits.
std::string new_session_id();

}  // namespace infini::server
