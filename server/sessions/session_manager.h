// The sessions of one server: created, forked and restored under the
// limits, found by tenant, written through to the snapshot store, evicted
// and reloaded under the state budget. It composes three parts, each in its
// own file: SessionRegistry (the map and the session-count limits),
// StateBudget (--max-state-bytes) and SessionResidency (eviction, reload,
// write-through). A session's engine state is touched only by tasks on its
// own SerialQueue (one at a time); what other threads read are atomics.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "server/scheduling/scheduler.h"
#include "server/sessions/session.h"
#include "server/sessions/session_registry.h"
#include "server/sessions/session_residency.h"
#include "server/sessions/session_snapshot.h"
#include "server/sessions/state_budget.h"

namespace infini::server {

class SessionPersistence;
class ServerMetrics;

class SessionManager {
 public:
  // Every new session starts with `document_prefix` (the prompt template's).
  SessionManager(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
                 SessionLimits limits, std::vector<PromptPiece> document_prefix = {});

  // Throws ServiceError(kLimit) past the limits.
  std::shared_ptr<Session> create(const Labels& labels, const std::string& tenant);
  // A new session of `tenant` holding a copy of `source`'s state; call from
  // a task on the source's queue so that the copy is consistent.
  std::shared_ptr<Session> fork(const Session& source, const Labels& labels,
                                const std::string& tenant);
  // Throws ServiceError(kUnknownSession) naming the id, with the same
  // message whether the id does not exist or belongs to another tenant.
  std::shared_ptr<Session> get(const std::string& id, const std::string& tenant) const {
    return registry_.get(id, tenant);
  }
  // False (and nothing removed) when the id is unknown or another tenant's.
  // With snapshots on, the session's snapshot goes too: the one place a
  // session's durable copy is removed (with expire_idle and persist).
  bool remove(const std::string& id, const std::string& tenant);
  // Whether `session` is still registered (not removed or expired).
  bool holds(const std::shared_ptr<Session>& session) const { return registry_.holds(session); }

  // Write-through after a completed Ingest or an Import (see
  // SessionResidency::persist); call from a task on the session's queue.
  void persist(const std::shared_ptr<Session>& session) const { residency_.persist(session); }
  bool durable() const { return residency_.durable(); }
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

  using Page = SessionRegistry::Page;
  // `tenant`'s sessions with id > page_token, in id order.
  Page list(int64_t page_size, const std::string& page_token, const std::string& tenant) const {
    return registry_.list(page_size, page_token, tenant);
  }
  // Every session of every tenant, in id order (persistence, metrics).
  std::vector<std::shared_ptr<Session>> all() const { return registry_.all(); }

  // The session's durable form (see session.h); call from a task on its queue.
  SessionSnapshot snapshot_of(const Session& session) const {
    return server::snapshot_of(session);
  }
  // A session rebuilt from its snapshot (of the snapshot's tenant), under
  // the same limits as create(); throws ServiceError (limits, an id already
  // held) or infini::Error (a state whose shapes are not this model's).
  // kIfRoom (restore at start): resident while the state budget has room
  // without evicting anyone, otherwise registered as evicted (its state
  // stays in the store until a call needs it).
  enum class Residency { kResident, kIfRoom };
  std::shared_ptr<Session> restore(const SessionSnapshot& snapshot,
                                   Residency residency = Residency::kResident);

  // Turned on once at start when snapshots are (--snapshot-dir), before any
  // call: from then on sessions are written through (persist) and removed
  // with their snapshots, and a session that would pass --max-state-bytes
  // first evicts the least recently used idle sessions to their store.
  // Without it, the limit is RESOURCE_EXHAUSTED at once.
  void enable_snapshots(const SessionPersistence* persistence, Scheduler* scheduler,
                        ServerMetrics* metrics) {
    residency_.enable_snapshots(persistence, scheduler, metrics);
  }
  // See SessionResidency::ensure_resident: call at the start of every task
  // on the session's queue that uses its state.
  void ensure_resident(Session& session) { residency_.ensure_resident(session); }
  int64_t resident_count() const { return registry_.resident_count(); }
  int64_t evicted_count() const { return registry_.evicted_count(); }

  // Removes sessions unused for longer than `idle`, and their snapshots;
  // returns their ids.
  std::vector<std::string> expire_idle(std::chrono::seconds idle);

  int64_t count() const { return registry_.count(); }
  int64_t state_bytes_per_session() const { return budget_.state_bytes(); }
  // Of resident sessions: evicted ones hold no state in memory.
  int64_t total_state_bytes() const { return resident_count() * budget_.state_bytes(); }
  int64_t total_kv_equivalent_bytes() const;
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<PromptPiece> document_prefix_;
  // Declared in this order: the registry's slots go back to the budget when
  // it is destroyed, and residency refers to both.
  StateBudget budget_;
  SessionRegistry registry_;
  SessionResidency residency_;
};

}  // namespace infini::server
