// The C++ client library application backends link to talk to infini-server:
// sessions, streaming a document into a session's compressive memory, and
// streamed answers and summaries. Every method blocks until its call is done
// and throws ClientError when the call fails; one InfiniClient may be shared
// by many threads (each call has its own grpc::ClientContext).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/infini/v1/long_context.grpc.pb.h"
#include "proto/infini/v1/long_context.pb.h"
#include "proto/infini/v1/snapshot_chunk.h"
#include "proto/status_code_name.h"

namespace infini::client {

// "NOT_FOUND", "INVALID_ARGUMENT", ... as gRPC spells the codes (the
// server's names too: proto/status_code_name.h).
using infini::status_code_name;

// A failed call: the gRPC status code and the server's message. Failures the
// client finds itself (a bad argument, a document that cannot be read) carry
// a code too, so callers handle one exception type. what() is "CODE: message".
class ClientError : public std::runtime_error {
 public:
  ClientError(grpc::StatusCode code, std::string message);
  explicit ClientError(const grpc::Status& status);

  grpc::StatusCode code() const { return code_; }
  // The message alone, without the code.
  const std::string& message() const { return message_; }

 private:
  grpc::StatusCode code_;
  std::string message_;
};

struct ClientOptions {
  // Deadline of every call, counted from its start; none: calls may run for
  // ever. An ingest of a long document is one call.
  std::optional<std::chrono::milliseconds> call_timeout;
  // Largest message sent or received. Applies only when InfiniClient creates
  // the channel (constructed from an address).
  int max_message_bytes = 64 * 1024 * 1024;
  // Credentials for a channel InfiniClient creates; null: insecure, or TLS
  // when a tls_* field below is set.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // TLS for a channel InfiniClient creates, used when any of these is set:
  // PEM files, read by the constructor (ClientError INVALID_ARGUMENT naming
  // the file when one cannot be read).
  std::string tls_ca_file;    // certificates to trust; "": the system's roots
  std::string tls_cert_file;  // this client's certificate (mutual TLS), with tls_key_file
  std::string tls_key_file;
  std::string tls_server_name;  // name expected in the server's certificate; "": the target's host
  // Calls wait for the channel to (re)connect, within their deadline, instead
  // of failing at once with UNAVAILABLE while the server is unreachable. Use
  // with a call_timeout: without one a call to a server that never comes up
  // waits for ever.
  bool wait_for_ready = false;
  // Sent as "authorization: Bearer <token>" on every call, for a server run
  // with --auth-tokens; "": none. Printable ASCII without spaces (checked by
  // the constructor). Over a plaintext channel anyone on the path can read
  // it: use TLS wherever the network is not trusted.
  std::string bearer_token;
};

using Labels = std::map<std::string, std::string>;

// ExportSession / ImportSession move snapshots in chunks of at most this
// (proto/infini/v1/snapshot_chunk.h: the server's limit too).
using v1::kSnapshotChunkBytes;

// Mirrors infini.v1.GenerationParams; zero values ask for the server's
// defaults.
struct GenerationParams {
  int32_t max_tokens = 0;    // 0: the server's default
  float temperature = 0.0f;  // 0: greedy
  int32_t top_k = 0;         // 0: no limit
  float top_p = 0.0f;        // 0 or 1: no nucleus cut
  uint64_t seed = 0;
  std::vector<std::string> stop;  // empty: the model's template stops
};

v1::GenerationParams to_proto(const GenerationParams& params);

struct IngestOptions {
  // Read into this session; empty: create a new session with `labels`.
  std::string session_id;
  Labels labels;
  // Text is sent as text_bytes chunks of this many bytes, cut anywhere (the
  // server joins characters split between chunks).
  size_t chunk_bytes = 64 * 1024;
  // Token ids (ingest_tokens) are sent this many per message.
  size_t chunk_tokens = 16 * 1024;
  // Ask the server, in the last message, to tokenize text still waiting for a
  // word boundary. Turn off to send a document in several calls.
  bool flush = true;
};

// Reported after each chunk is written to the stream.
struct IngestProgress {
  int64_t chunks = 0;  // chunks written so far
  int64_t sent = 0;    // bytes (text) or token ids (ingest_tokens) written so far
  // The document's size in the same unit, when known (a string, a seekable
  // stream, a span of ids); nullopt for a pipe.
  std::optional<int64_t> total;
  // This was the last chunk: what follows is the server finishing its read
  // (it may have buffered much of the document, so that wait can be long).
  bool last = false;
};
using ProgressCallback = std::function<void(const IngestProgress&)>;

// Receives each text delta as it arrives; returning false cancels the call.
using TextCallback = std::function<bool(std::string_view delta)>;

struct GenerateResult {
  std::string text;  // every delta, in order
  // From the server's final message; FINISH_REASON_CANCELLED when on_text
  // stopped the call (usage is then empty: the final message never came).
  v1::FinishReason finish_reason = v1::FINISH_REASON_UNSPECIFIED;
  v1::Usage usage;
  bool cancelled_by_client = false;
};

class InfiniClient {
 public:
  // `target` is a gRPC address: "localhost:50051", "unix:/run/infini.sock".
  explicit InfiniClient(const std::string& target, ClientOptions options = {});
  explicit InfiniClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options = {});

  v1::Session create_session(const Labels& labels = {});
  v1::Session get_session(const std::string& session_id);
  // One page, ordered by id; page_size 0 is the server's default.
  v1::ListSessionsResponse list_sessions(int32_t page_size = 0, const std::string& page_token = "");
  // Every session, following next_page_token to the last page.
  std::vector<v1::Session> list_all_sessions(int32_t page_size = 0);
  void delete_session(const std::string& session_id);
  v1::Session fork_session(const std::string& session_id, const Labels& labels = {});

  // A session's snapshot (see ExportSession): opaque bytes that
  // import_session() turns into a session that answers as this one, on any
  // server running the same model.
  std::string export_session(const std::string& session_id);
  // Sends `snapshot` in chunks of kSnapshotChunkBytes; the session gets a new
  // id (in the returned Session) and belongs to this client's tenant.
  v1::Session import_session(std::string_view snapshot);

  // Streams the rest of `document` into a session (see IngestOptions) and
  // returns the server's response. A failure mid-stream cancels the call; the
  // chunks the server already read stay read.
  v1::IngestResponse ingest(std::istream& document, const IngestOptions& options = {},
                            const ProgressCallback& on_progress = {});
  v1::IngestResponse ingest(std::string_view document, const IngestOptions& options = {},
                            const ProgressCallback& on_progress = {});
  v1::IngestResponse ingest_tokens(std::span<const int32_t> token_ids,
                                   const IngestOptions& options = {},
                                   const ProgressCallback& on_progress = {});

  // Server-streamed generation. The session itself never changes by asking.
  GenerateResult ask(const std::string& session_id, const std::string& question,
                     const GenerationParams& params = {}, const TextCallback& on_text = {});
  GenerateResult summarize(const std::string& session_id, const GenerationParams& params = {},
                           const TextCallback& on_text = {});

  // grpc.health.v1.Health/Check: "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"
  // or "UNKNOWN" for `service` ("" is the server as a whole). A server that
  // cannot be reached throws ClientError (UNAVAILABLE), as every call does.
  std::string health(const std::string& service = "");

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  // Fills a message's chunk (always setting the oneof, possibly empty) and
  // returns how many bytes or ids it holds; 0 at the end of the document.
  using ChunkReader = std::function<int64_t(v1::IngestRequest&)>;

  void prepare(grpc::ClientContext& context) const;
  v1::IngestResponse run_ingest(const IngestOptions& options, const ChunkReader& next_chunk,
                                std::optional<int64_t> total, const ProgressCallback& on_progress);
  GenerateResult run_generate(grpc::ClientContext& context,
                              grpc::ClientReaderInterface<v1::GenerateResponse>& reader,
                              const TextCallback& on_text);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LongContext::Stub> stub_;
  ClientOptions options_;
  std::optional<int> max_message_bytes_;  // known only for a channel we created
};

}  // namespace infini::client
