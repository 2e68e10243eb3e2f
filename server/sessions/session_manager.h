// Sessions by id: creation under the limits, lookup, paging, idle expiry.
// Every session belongs to a tenant (the caller's authenticated identity, ""
// when auth is off); lookups name the caller's tenant, and a session of
// another tenant is answered exactly as one that does not exist.
// A session's engine state is touched only by tasks on its own SerialQueue
// (one at a time); what other threads read (counts, times) are atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/document_reader.h"
#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
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

  // Residency under the memory budget (see session_eviction.cc). `resident`
  // changes only in a task on `queue` while holding SessionManager's mutex,
  // so a task on `queue` sees it stable; other threads read it (GetSession).
  // An evicted session keeps everything but its state's tensors in memory.
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

struct SessionLimits {
  int64_t max_sessions = 1024;
  int64_t max_state_bytes = int64_t{8} << 30;
  int64_t max_sessions_per_tenant = 0;  // 0: no limit but max_sessions
};

class SessionPersistence;
class ServerMetrics;

// Locking: mutex_ guards the map, reserved_ and every change of a session's
// `resident`; it is never held while a task runs, a snapshot is read or
// written, or a state is allocated. A session's state is touched only by
// tasks on its queue; eviction runs as such a task (Scheduler::run_if_idle).
class SessionManager {
 public:
  // Every new session starts with `document_prefix` (the prompt template's).
  SessionManager(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
                 SessionLimits limits, std::vector<PromptPiece> document_prefix = {});

  // Throws ServiceError(RESOURCE_EXHAUSTED) past the limits.
  std::shared_ptr<Session> create(const Labels& labels, const std::string& tenant);
  // A new session of `tenant` holding a copy of `source`'s state; call from
  // a task on the source's queue so that the copy is consistent.
  std::shared_ptr<Session> fork(const Session& source, const Labels& labels,
                                const std::string& tenant);
  // Throws ServiceError(NOT_FOUND) naming the id, with the same message
  // whether the id does not exist or belongs to another tenant.
  std::shared_ptr<Session> get(const std::string& id, const std::string& tenant) const;
  // False (and nothing removed) when the id is unknown or another tenant's.
  // With snapshots on, the session's snapshot goes too: the one place a
  // session's durable copy is removed (with expire_idle and persist).
  bool remove(const std::string& id, const std::string& tenant);
  // Whether `session` is still registered (not removed or expired).
  bool holds(const std::shared_ptr<Session>& session) const;

  // Write-through: the session's snapshot, after a completed Ingest or an
  // Import; call from a task on its queue. If the session was removed while
  // it was written, the snapshot is removed again. A no-op without
  // snapshots (durable() false). Throws std::runtime_error saying where and
  // why when it cannot be written; the previous snapshot then stays.
  void persist(const std::shared_ptr<Session>& session) const;
  bool durable() const { return persistence_ != nullptr; }
  // Writes every session, each on its own queue (after the server stopped
  // taking calls); returns how many were written before `deadline` passed.
  // An evicted session's snapshot is current already and counts as written.
  // Failures are logged and counted as not written.
  int persist_all(std::chrono::milliseconds deadline) const;

  struct Skipped {
    std::string location;  // where the snapshot is, in the store's words
    std::string reason;
  };
  struct RestoreReport {
    int restored = 0;
    int evicted = 0;  // of `restored`: past --max-state-bytes, left in the store until used
    std::vector<Skipped> skipped;
  };
  // Restores every snapshot in the store: in memory while --max-state-bytes
  // has room, registered as evicted after that. Snapshots it cannot use are
  // reported and left where they are.
  RestoreReport restore_all();

  struct Page {
    std::vector<std::shared_ptr<Session>> sessions;
    std::string next_token;
  };
  // `tenant`'s sessions with id > page_token, in id order.
  Page list(int64_t page_size, const std::string& page_token, const std::string& tenant) const;

  // Every session of every tenant, in id order (persistence, metrics).
  std::vector<std::shared_ptr<Session>> all() const;

  // The session's durable form, tenant included; call from a task on its queue.
  SessionSnapshot snapshot_of(const Session& session) const;
  // A session rebuilt from its snapshot (of the snapshot's tenant), under
  // the same limits as create();
  // throws ServiceError (limits, an id already held) or infini::Error (a
  // state whose shapes are not this model's).
  // kIfRoom (restore at start): resident while the state budget has room
  // without evicting anyone, otherwise registered as evicted (its state
  // stays on disk until a call needs it).
  enum class Residency { kResident, kIfRoom };
  std::shared_ptr<Session> restore(const SessionSnapshot& snapshot,
                                   Residency residency = Residency::kResident);

  // Snapshots and eviction (session_eviction.cc). Turned on once at start
  // when snapshots are (--snapshot-dir), before any call: from then on
  // sessions are written through (persist) and removed with their
  // snapshots, and a session that would pass --max-state-bytes first evicts
  // the least recently used idle sessions to their store. Without it, the
  // limit is RESOURCE_EXHAUSTED at once.
  void enable_snapshots(const SessionPersistence* persistence, Scheduler* scheduler,
                        ServerMetrics* metrics);
  // Reloads an evicted session's state from its snapshot, making room first
  // (which may evict others); a no-op when resident. Call at the start of
  // every task on the session's queue that uses its state. Throws
  // ServiceError (RESOURCE_EXHAUSTED: no room; INTERNAL: unreadable snapshot).
  void ensure_resident(Session& session);
  int64_t resident_count() const;
  int64_t evicted_count() const;

  // Removes sessions unused for longer than `idle`, and their snapshots;
  // returns their ids.
  std::vector<std::string> expire_idle(std::chrono::seconds idle);

  int64_t count() const;
  int64_t state_bytes_per_session() const { return state_bytes_; }
  // Of resident sessions: evicted ones hold no state in memory.
  int64_t total_state_bytes() const { return resident_count() * state_bytes_; }
  int64_t total_kv_equivalent_bytes() const;
  const Model& model() const { return *model_; }

 private:
  void check_room(const std::string& tenant) const;  // under mutex_

  // One state's room under --max-state-bytes, held while a state is
  // allocated or reloaded; given back when destroyed unless a resident
  // session took it over (take(), under mutex_).
  class StateSlot {
   public:
    explicit StateSlot(SessionManager* owner) : owner_(owner) {}
    StateSlot(StateSlot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    StateSlot& operator=(StateSlot&& other) noexcept {
      std::swap(owner_, other.owner_);
      return *this;
    }
    ~StateSlot();
    bool held() const { return owner_ != nullptr; }
    void take();  // under mutex_

   private:
    SessionManager* owner_;
  };
  // Waits for no task: evicts idle sessions, least recently used first,
  // until one more state fits (never `requester`); throws RESOURCE_EXHAUSTED
  // saying why when none can go.
  StateSlot reserve_state(const Session* requester);
  // Writes `victim`'s snapshot and drops its state, as a task on its queue
  // run here. Busy (or gone): left as it is.
  enum class Eviction { kEvicted, kBusy, kWriteFailed };
  Eviction evict(const std::shared_ptr<Session>& victim);
  int64_t resident_locked() const;  // under mutex_: resident sessions + reserved_
  std::shared_ptr<Session> insert(std::shared_ptr<Session> session, StateSlot& slot);

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  SessionLimits limits_;
  std::vector<PromptPiece> document_prefix_;
  int64_t state_bytes_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  int64_t reserved_ = 0;  // StateSlots not yet taken over; under mutex_
  // Set once by enable_snapshots, before any call.
  const SessionPersistence* persistence_ = nullptr;
  Scheduler* scheduler_ = nullptr;
  ServerMetrics* metrics_ = nullptr;
};

// Frees `state`'s tensors (an evicted session's); its counts stay. Only a
// state assigned anew (model.new_session() + restore) may be used again.
void release_state(SessionState& state);

// A random 128-bit id, 32 hex digits.
std::string new_session_id();

}  // namespace infini::server
