// Sessions by id: creation under the limits, lookup, paging, idle expiry.
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
#include <vector>

#include "engine/model.h"
#include "engine/tokenizer.h"
#include "server/scheduler.h"
#include "server/session_snapshot.h"
#include "server/utf8_validator.h"

namespace infini::server {

using Clock = std::chrono::system_clock;
using Labels = std::map<std::string, std::string>;

struct Session {
  Session(std::string id, Labels labels, SessionState state,
          std::shared_ptr<const Tokenizer> tokenizer, Clock::time_point created = Clock::now());

  const std::string id;
  const Labels labels;
  const Clock::time_point created_at;
  const std::shared_ptr<SerialQueue> queue = std::make_shared<SerialQueue>();

  // Owned by the task running on `queue`.
  //
  // `state` only ever holds whole segments (its window is empty between
  // tasks); the tokens of the current partial segment wait in `pending_ids`
  // and are run on the fork when a question comes. So the session's memory
  // is computed from full segments only, always in the same shapes, and is
  // bit-for-bit the same however the document was cut into chunks.
  SessionState state;
  std::vector<int32_t> pending_ids;
  StreamingEncoder encoder;
  Utf8Validator utf8;

  // Published after each task for readers on other threads.
  std::atomic<int64_t> tokens{0};
  std::atomic<int64_t> segments{0};
  std::atomic<int64_t> pending_text_bytes{0};
  std::atomic<int64_t> last_used_ns{0};

  // Reads ids into the session: whole segments into `state`, the rest into
  // `pending_ids`. Call from a task on `queue`.
  void read(const Model& model, const std::vector<int32_t>& ids, ForwardStats* stats);

  void touch();
  void publish();  // copies the counts of `state` and `encoder` into the atomics
  Clock::time_point last_used() const;
};

struct SessionLimits {
  int64_t max_sessions = 1024;
  int64_t max_state_bytes = int64_t{8} << 30;
};

class SessionManager {
 public:
  // Every new session starts with `document_prefix` (the prompt template's).
  SessionManager(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
                 SessionLimits limits, std::string document_prefix = "");

  // Throws ServiceError(RESOURCE_EXHAUSTED) past the limits.
  std::shared_ptr<Session> create(const Labels& labels);
  // A new session holding a copy of `source`'s state; call from a task on
  // the source's queue so that the copy is consistent.
  std::shared_ptr<Session> fork(const Session& source, const Labels& labels);
  // Throws ServiceError(NOT_FOUND) naming the id.
  std::shared_ptr<Session> get(const std::string& id) const;
  bool remove(const std::string& id);

  struct Page {
    std::vector<std::shared_ptr<Session>> sessions;
    std::string next_token;
  };
  // Sessions with id > page_token, in id order.
  Page list(int64_t page_size, const std::string& page_token) const;

  // Every session, in id order.
  std::vector<std::shared_ptr<Session>> all() const;

  // The session's durable form; call from a task on its queue.
  SessionSnapshot snapshot_of(const Session& session) const;
  // A session rebuilt from its snapshot, under the same limits as create();
  // throws ServiceError (limits, an id already held) or infini::Error (a
  // state whose shapes are not this model's).
  std::shared_ptr<Session> restore(const SessionSnapshot& snapshot);

  // Removes sessions unused for longer than `idle`; returns their ids.
  std::vector<std::string> expire_idle(std::chrono::seconds idle);

  int64_t count() const;
  int64_t state_bytes_per_session() const { return state_bytes_; }
  int64_t total_state_bytes() const { return count() * state_bytes_; }
  int64_t total_kv_equivalent_bytes() const;
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<Session> insert(std::shared_ptr<Session> session);
  void check_room() const;  // under mutex_

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  SessionLimits limits_;
  std::string document_prefix_;
  int64_t state_bytes_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

// A random 128-bit id, 32 hex digits.
std::string new_session_id();

}  // namespace infini::server
