#include "server/rpc/session_transfer.h"

#include <algorithm>

#include "server/admission/limit.h"
#include "server/rpc/request_validation.h"
#include "server/rpc/session_proto.h"
#include "server/security/authenticator.h"
#include "server/sessions/session_id.h"
#include "server/sessions/session_snapshot.h"
#include "server/sessions/file_session_store.h"
#include "server/status.h"

namespace infini::server {
namespace {

constexpr int64_t kMetadataAllowanceBytes = int64_t{1} << 20;

// Damaged or foreign bytes are the caller's to fix (INVALID_ARGUMENT); a
// sound snapshot this server cannot use is a matter of which server gets it
// (FAILED_PRECONDITION).
ServiceError import_error(const SnapshotError& e) {
  using Kind = SnapshotError::Kind;
  const bool sound = e.kind() == Kind::kOtherModel || e.kind() == Kind::kFutureVersion;
  return ServiceError(
      sound ? Fault::kWrongServer : Fault::kBadRequest,
      std::string("snapshot not imported: ") + e.what());
}

}  // namespace

int64_t max_snapshot_bytes(const SessionManager& sessions) {
  const int64_t segment = sessions.model().config().segment_size;
  return sessions.state_bytes_per_session() + segment * int64_t{sizeof(int32_t)} +
         2 * static_cast<int64_t>(StreamingEncoder::kMaxPendingBytes) + kMetadataAllowanceBytes;
}

// ---- ExportSession --------------------------------------------------------

ExportReactor::ExportReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                             const std::string& session_id)
    : CallReactor(context, "ExportSession") {
  try {
    admit(ctx);
    require_id(session_id, "session_id");
    call_.set_session(session_id);
    session_ = context_.sessions->get(session_id, tenant_);
    user_ = SessionUser(session_);
    submit(session_->queue, [this] { take_snapshot(); });
  } catch (...) {
    finish(call_.status_of_current_exception());
  }
}

void ExportReactor::take_snapshot() {
  try {
    if (cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled by the client"));
      return;
    }
    context_.sessions->ensure_resident(*session_);
    bytes_ =
        encode_snapshot(context_.sessions->snapshot_of(*session_), context_.model_identity->get());
  } catch (...) {
    finish(call_.status_of_current_exception());
    return;
  }
  write_next();
}

void ExportReactor::write_next() {
  if (sent_ == bytes_.size()) {
    finish(grpc::Status::OK);
    return;
  }
  const size_t n = std::min(kSnapshotChunkBytes, bytes_.size() - sent_);
  chunk_.set_data(bytes_.data() + sent_, n);
  sent_ += n;
  start_write(&chunk_);
}

void ExportReactor::OnWriteDone(bool ok) {
  if (!write_completed()) return;
  if (!ok) {
    finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away during the export"));
    return;
  }
  write_next();
}

// ---- ImportSession --------------------------------------------------------

// What a snapshot carries beyond the state is checked against this model
// too: the checksum proves the bytes are whole, not that their writer was
// this server, and a session holding ids outside the vocabulary would fail
// every later call rather than this one.
void ImportReactor::check_pending(const SessionSnapshot& snapshot) const {
  const ModelConfig& config = context_.model->config();
  if (static_cast<int64_t>(snapshot.pending_ids.size()) >= config.segment_size) {
    throw ServiceError(Fault::kBadRequest,
                       "snapshot not imported: " + std::to_string(snapshot.pending_ids.size()) +
                           " pending token ids, a segment holds " +
                           std::to_string(config.segment_size));
  }
  for (size_t i = 0; i < snapshot.pending_ids.size(); ++i) {
    const int32_t id = snapshot.pending_ids[i];
    if (id < 0 || id >= config.vocab_size) {
      throw ServiceError(Fault::kBadRequest,
                         "snapshot not imported: pending token id " + std::to_string(i) + " = " +
                             std::to_string(id) + " is outside the vocabulary [0, " +
                             std::to_string(config.vocab_size) + ")");
    }
  }
  // The bound max_snapshot_bytes allows for, as for any session's snapshot.
  if (snapshot.pending_text.size() > 2 * StreamingEncoder::kMaxPendingBytes) {
    throw ServiceError(Fault::kBadRequest,
                       "snapshot not imported: " + std::to_string(snapshot.pending_text.size()) +
                           " bytes of pending text, more than a session ever holds (" +
                           std::to_string(2 * StreamingEncoder::kMaxPendingBytes) + ")");
  }
}

ImportReactor::ImportReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                             v1::Session* response)
    : CallReactor(context, "ImportSession"),
      response_(response),
      limit_bytes_(max_snapshot_bytes(*context.sessions)) {
  try {
    admit(ctx);
  } catch (...) {
    finish(call_.status_of_current_exception());
    return;
  }
  StartRead(&chunk_);
}

void ImportReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client closed its side (or the call was cancelled).
    if (cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "import cancelled by the client"));
    } else if (bytes_.empty()) {
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "empty ImportSession stream: no snapshot bytes were sent"));
    } else {
      try {
        submit(queue_, [this] { restore(); },
               "the engine queue is full; nothing was imported, retry later");
      } catch (...) {
        finish(call_.status_of_current_exception());
      }
    }
    return;
  }
  const size_t n = chunk_.data().size();
  if (n > kSnapshotChunkBytes) {
    finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "chunk " + std::to_string(chunks_) + " holds " + std::to_string(n) +
                            " bytes; ImportSession takes chunks of at most " +
                            std::to_string(kSnapshotChunkBytes)));
    return;
  }
  if (static_cast<int64_t>(bytes_.size() + n) > limit_bytes_) {
    finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "snapshot not imported: more than " + std::to_string(limit_bytes_) +
                            " bytes, the largest snapshot this server's model can produce"));
    return;
  }
  bytes_.append(chunk_.data());
  ++chunks_;
  StartRead(&chunk_);
}

void ImportReactor::restore() {
  try {
    if (cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "import cancelled by the client"));
      return;
    }
    SessionSnapshot snapshot;
    try {
      snapshot = decode_snapshot(bytes_, context_.model_identity->get());
    } catch (const SnapshotError& e) {
      throw import_error(e);
    }
    if (!is_valid_session_id(snapshot.id)) {
      throw ServiceError(Fault::kBadRequest,
                         "snapshot not imported: its session id is not 1..128 characters of "
                         "[A-Za-z0-9_-]");
    }
    check_pending(snapshot);
    bytes_.clear();
    bytes_.shrink_to_fit();
    snapshot.tenant = tenant_;  // the importer owns what it imports
    // A new id: keeping the snapshot's would answer ALREADY_EXISTS when any
    // tenant holds it, telling the caller that the id exists.
    snapshot.id = new_session_id();
    call_.set_session(snapshot.id);
    std::shared_ptr<Session> session = context_.sessions->restore(snapshot);
    // Imported now: idle expiry and eviction count from here, not from its
    // last use on the server it came from.
    session->touch();
    if (!context_.sessions->durable()) {
      fill_session_proto(*session, *context_.sessions, context_.model_name, response_);
      finish(grpc::Status::OK);
      return;
    }
    // Durable before it is reported: written on its own queue, where no call
    // can change it meanwhile.
    const bool queued = submit_task(context_, session->queue, [this, session] {
      try {
        context_.sessions->persist(session);
      } catch (const std::exception& e) {
        // With its snapshot: the write may have failed after its rename.
        context_.sessions->remove(session->id, tenant_);
        finish(grpc::Status(
            grpc::StatusCode::INTERNAL,
            std::string("session not imported: its snapshot cannot be written: ") + e.what()));
        return;
      }
      fill_session_proto(*session, *context_.sessions, context_.model_name, response_);
      finish(grpc::Status::OK);
    });
    if (!queued) {
      context_.sessions->remove(session->id, tenant_);  // and a snapshot an eviction wrote
      throw LimitExceeded(Limit::kQueue,
                         "the engine queue is full; nothing was imported, retry later");
    }
  } catch (...) {
    finish(call_.status_of_current_exception());
  }
}

}  // namespace infini::server
