#include "server/sessions/session_persistence.h"

#include <stdexcept>

namespace infini::server {

SessionPersistence::SessionPersistence(std::unique_ptr<SessionStore> store,
                                       std::string model_identity)
    : store_(std::move(store)), model_identity_(std::move(model_identity)) {}

void SessionPersistence::write(const SessionSnapshot& snapshot) const {
  store_->write(snapshot.id, encode_snapshot(snapshot, model_identity_));
}

SessionSnapshot SessionPersistence::read(const std::string& session_id) const {
  SessionSnapshot snapshot = decode_snapshot(store_->read(session_id), model_identity_);
  if (snapshot.id != session_id) {
    throw std::runtime_error(store_->location(session_id) + " holds session " + snapshot.id +
                             ", not the one its name says");
  }
  return snapshot;
}

void SessionPersistence::remove(const std::string& session_id) const { store_->remove(session_id); }

}  // namespace infini::server
