#include "client/infini_client.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace infini::client {

namespace {

// Room for the message's own fields around a chunk of text.
constexpr int kMessageOverheadBytes = 1024;

void check(const grpc::Status& status) {
  if (!status.ok()) throw ClientError(status);
}

google::protobuf::Map<std::string, std::string> to_proto_map(const Labels& labels) {
  return google::protobuf::Map<std::string, std::string>(labels.begin(), labels.end());
}

// The remaining size of a stream, when it can seek (a file, a string stream);
// a pipe cannot.
std::optional<int64_t> remaining_bytes(std::istream& in) {
  const std::istream::pos_type start = in.tellg();
  if (start == std::istream::pos_type(-1)) {
    in.clear(in.rdstate() & ~std::ios::failbit);
    return std::nullopt;
  }
  in.seekg(0, std::ios::end);
  const std::istream::pos_type end = in.tellg();
  in.seekg(start);
  if (!in || end == std::istream::pos_type(-1)) {
    in.clear(in.rdstate() & ~std::ios::failbit);
    in.seekg(start);
    return std::nullopt;
  }
  return static_cast<int64_t>(end - start);
}

std::string read_pem_file(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || std::filesystem::is_directory(path)) {
    throw ClientError(
        grpc::StatusCode::INVALID_ARGUMENT,
        "cannot read the " + what + " '" + path + "': " +
            (std::filesystem::is_directory(path) ? "it is a directory" : std::strerror(errno)));
  }
  return text.str();
}

// TLS from the tls_* options when any is set, else insecure.
std::shared_ptr<grpc::ChannelCredentials> tls_credentials(const ClientOptions& options,
                                                          grpc::ChannelArguments& args) {
  if (options.tls_ca_file.empty() && options.tls_cert_file.empty() &&
      options.tls_key_file.empty() && options.tls_server_name.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    throw ClientError(grpc::StatusCode::INVALID_ARGUMENT,
                      "a TLS client certificate needs its key and a key its certificate: give "
                      "both or neither");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    ssl.pem_root_certs = read_pem_file("TLS CA file", options.tls_ca_file);
  }
  if (!options.tls_cert_file.empty()) {
    ssl.pem_cert_chain = read_pem_file("TLS client certificate", options.tls_cert_file);
    ssl.pem_private_key = read_pem_file("TLS client key", options.tls_key_file);
  }
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

ClientError::ClientError(grpc::StatusCode code, std::string message)
    : std::runtime_error(std::string(status_code_name(code)) + ": " + message),
      code_(code),
      message_(std::move(message)) {}

ClientError::ClientError(const grpc::Status& status)
    : ClientError(status.error_code(), status.error_message()) {}

v1::GenerationParams to_proto(const GenerationParams& params) {
  v1::GenerationParams out;
  out.set_max_tokens(params.max_tokens);
  out.set_temperature(params.temperature);
  out.set_top_k(params.top_k);
  out.set_top_p(params.top_p);
  out.set_seed(params.seed);
  for (const auto& stop : params.stop) out.add_stop(stop);
  return out;
}

namespace {

// A token gRPC can carry in metadata and the server can parse; the error
// never repeats it.
void check_bearer_token(const std::string& token) {
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      throw ClientError(grpc::StatusCode::INVALID_ARGUMENT,
                        "the bearer token has a space, control or non-ASCII character; "
                        "a token is printable ASCII without spaces");
    }
  }
}

}  // namespace

InfiniClient::InfiniClient(const std::string& target, ClientOptions options)
    : options_(std::move(options)), max_message_bytes_(options_.max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  check_bearer_token(options_.bearer_token);
  std::shared_ptr<grpc::ChannelCredentials> credentials = options_.credentials;
  if (!credentials) credentials = tls_credentials(options_, args);
  channel_ = grpc::CreateCustomChannel(target, credentials, args);
  stub_ = v1::LongContext::NewStub(channel_);
}

InfiniClient::InfiniClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)), options_(std::move(options)) {
  if (!channel_) throw ClientError(grpc::StatusCode::INVALID_ARGUMENT, "null channel");
  check_bearer_token(options_.bearer_token);
  stub_ = v1::LongContext::NewStub(channel_);
}

void InfiniClient::prepare(grpc::ClientContext& context) const {
  if (options_.call_timeout) {
    context.set_deadline(std::chrono::system_clock::now() + *options_.call_timeout);
  }
  context.set_wait_for_ready(options_.wait_for_ready);
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.bearer_token);
  }
}

v1::Session InfiniClient::create_session(const Labels& labels) {
  v1::CreateSessionRequest request;
  *request.mutable_labels() = to_proto_map(labels);
  v1::Session session;
  grpc::ClientContext context;
  prepare(context);
  check(stub_->CreateSession(&context, request, &session));
  return session;
}

std::string InfiniClient::health(const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  prepare(context);
  check(grpc::health::v1::Health::NewStub(channel_)->Check(&context, request, &response));
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

v1::Session InfiniClient::get_session(const std::string& session_id) {
  v1::GetSessionRequest request;
  request.set_session_id(session_id);
  v1::Session session;
  grpc::ClientContext context;
  prepare(context);
  check(stub_->GetSession(&context, request, &session));
  return session;
}

v1::ListSessionsResponse InfiniClient::list_sessions(int32_t page_size,
                                                     const std::string& page_token) {
  v1::ListSessionsRequest request;
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  v1::ListSessionsResponse response;
  grpc::ClientContext context;
  prepare(context);
  check(stub_->ListSessions(&context, request, &response));
  return response;
}

std::vector<v1::Session> InfiniClient::list_all_sessions(int32_t page_size) {
  std::vector<v1::Session> sessions;
  std::string token;
  while (true) {
    v1::ListSessionsResponse page = list_sessions(page_size, token);
    for (auto& session : *page.mutable_sessions()) sessions.push_back(std::move(session));
    if (page.next_page_token().empty()) return sessions;
    // A server that hands back the token it was given would loop us for ever.
    if (page.next_page_token() == token) {
      throw ClientError(grpc::StatusCode::INTERNAL,
                        "ListSessions returned the same page token again: '" + token + "'");
    }
    token = page.next_page_token();
  }
}

void InfiniClient::delete_session(const std::string& session_id) {
  v1::DeleteSessionRequest request;
  request.set_session_id(session_id);
  v1::DeleteSessionResponse response;
  grpc::ClientContext context;
  prepare(context);
  check(stub_->DeleteSession(&context, request, &response));
}

v1::Session InfiniClient::fork_session(const std::string& session_id, const Labels& labels) {
  v1::ForkSessionRequest request;
  request.set_session_id(session_id);
  *request.mutable_labels() = to_proto_map(labels);
  v1::Session session;
  grpc::ClientContext context;
  prepare(context);
  check(stub_->ForkSession(&context, request, &session));
  return session;
}

std::string InfiniClient::export_session(const std::string& session_id) {
  v1::ExportSessionRequest request;
  request.set_session_id(session_id);
  grpc::ClientContext context;
  prepare(context);
  auto reader = stub_->ExportSession(&context, request);
  std::string bytes;
  v1::SnapshotChunk chunk;
  while (reader->Read(&chunk)) bytes.append(chunk.data());
  check(reader->Finish());
  return bytes;
}

v1::Session InfiniClient::import_session(std::string_view snapshot) {
  v1::Session session;
  grpc::ClientContext context;
  prepare(context);
  auto writer = stub_->ImportSession(&context, &session);
  v1::SnapshotChunk chunk;
  for (size_t at = 0; at < snapshot.size(); at += kSnapshotChunkBytes) {
    chunk.set_data(std::string(snapshot.substr(at, kSnapshotChunkBytes)));
    if (!writer->Write(chunk)) break;  // the server ended the call: Finish says why
  }
  writer->WritesDone();
  check(writer->Finish());
  return session;
}

v1::IngestResponse InfiniClient::ingest(std::istream& document, const IngestOptions& options,
                                        const ProgressCallback& on_progress) {
  const std::optional<int64_t> total = remaining_bytes(document);
  const size_t chunk_bytes = options.chunk_bytes;
  int64_t read_so_far = 0;
  auto next_chunk = [&](v1::IngestRequest& request) -> int64_t {
    std::string* buffer = request.mutable_text_bytes();
    buffer->resize(chunk_bytes);
    // read() stops short only at the end of the stream or on an error.
    document.read(buffer->data(), static_cast<std::streamsize>(chunk_bytes));
    const auto got = static_cast<size_t>(document.gcount());
    buffer->resize(got);
    if (document.bad()) {
      throw ClientError(grpc::StatusCode::DATA_LOSS, "reading the document failed after " +
                                                         std::to_string(read_so_far) + " bytes");
    }
    read_so_far += static_cast<int64_t>(got);
    return static_cast<int64_t>(got);
  };
  return run_ingest(options, next_chunk, total, on_progress);
}

v1::IngestResponse InfiniClient::ingest(std::string_view document, const IngestOptions& options,
                                        const ProgressCallback& on_progress) {
  size_t offset = 0;
  auto next_chunk = [&](v1::IngestRequest& request) -> int64_t {
    const std::string_view chunk = document.substr(offset, options.chunk_bytes);
    request.set_text_bytes(chunk.data(), chunk.size());
    offset += chunk.size();
    return static_cast<int64_t>(chunk.size());
  };
  return run_ingest(options, next_chunk, static_cast<int64_t>(document.size()), on_progress);
}

v1::IngestResponse InfiniClient::ingest_tokens(std::span<const int32_t> token_ids,
                                               const IngestOptions& options,
                                               const ProgressCallback& on_progress) {
  if (options.chunk_tokens == 0) {
    throw ClientError(grpc::StatusCode::INVALID_ARGUMENT, "chunk_tokens must be at least 1");
  }
  size_t offset = 0;
  auto next_chunk = [&](v1::IngestRequest& request) -> int64_t {
    const auto chunk =
        token_ids.subspan(offset, std::min(options.chunk_tokens, token_ids.size() - offset));
    auto* ids = request.mutable_token_ids()->mutable_ids();
    ids->Add(chunk.begin(), chunk.end());
    offset += chunk.size();
    return static_cast<int64_t>(chunk.size());
  };
  return run_ingest(options, next_chunk, static_cast<int64_t>(token_ids.size()), on_progress);
}

v1::IngestResponse InfiniClient::run_ingest(const IngestOptions& options,
                                            const ChunkReader& next_chunk,
                                            std::optional<int64_t> total,
                                            const ProgressCallback& on_progress) {
  if (options.chunk_bytes == 0) {
    throw ClientError(grpc::StatusCode::INVALID_ARGUMENT, "chunk_bytes must be at least 1");
  }
  if (max_message_bytes_ &&
      options.chunk_bytes + kMessageOverheadBytes > static_cast<size_t>(*max_message_bytes_)) {
    throw ClientError(grpc::StatusCode::INVALID_ARGUMENT,
                      "chunk_bytes " + std::to_string(options.chunk_bytes) +
                          " does not fit the channel's max message size " +
                          std::to_string(*max_message_bytes_));
  }
  if (!options.session_id.empty() && !options.labels.empty()) {
    throw ClientError(grpc::StatusCode::INVALID_ARGUMENT,
                      "labels apply only to a new session, not to session " + options.session_id);
  }

  grpc::ClientContext context;
  prepare(context);
  v1::IngestResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::IngestRequest>> writer =
      stub_->Ingest(&context, &response);

  IngestProgress progress;
  progress.total = total;
  bool stream_broke = false;
  try {
    // One chunk is read ahead so that the last message, which carries
    // `flush`, is known as the last when it is sent.
    v1::IngestRequest current;
    if (options.session_id.empty()) {
      *current.mutable_create()->mutable_labels() = to_proto_map(options.labels);
    } else {
      current.set_session_id(options.session_id);
    }
    int64_t current_units = next_chunk(current);
    while (true) {
      v1::IngestRequest next;
      // An empty document is still one message: it names (or creates) the
      // session and carries the flush.
      const int64_t next_units = current_units > 0 ? next_chunk(next) : 0;
      const bool last = next_units == 0;
      if (last) current.set_flush(options.flush);
      if (!writer->Write(current)) {
        stream_broke = true;  // the server ended the call; Finish says why
        break;
      }
      ++progress.chunks;
      progress.sent += current_units;
      progress.last = last;
      if (on_progress) on_progress(progress);
      if (last) break;
      current = std::move(next);
      current_units = next_units;
    }
  } catch (...) {
    // A reader or callback failed: end the call rather than leave it open
    // half-sent, then report the local failure.
    context.TryCancel();
    (void)writer->Finish();
    throw;
  }
  if (!stream_broke) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  check(status);
  if (stream_broke) {
    throw ClientError(grpc::StatusCode::DATA_LOSS, "the server ended the call after " +
                                                       std::to_string(progress.sent) +
                                                       " of the document's bytes or ids");
  }
  return response;
}

GenerateResult InfiniClient::ask(const std::string& session_id, const std::string& question,
                                 const GenerationParams& params, const TextCallback& on_text) {
  v1::AskRequest request;
  request.set_session_id(session_id);
  request.set_question(question);
  *request.mutable_params() = to_proto(params);
  grpc::ClientContext context;
  prepare(context);
  auto reader = stub_->Ask(&context, request);
  return run_generate(context, *reader, on_text);
}

GenerateResult InfiniClient::summarize(const std::string& session_id,
                                       const GenerationParams& params,
                                       const TextCallback& on_text) {
  v1::SummarizeRequest request;
  request.set_session_id(session_id);
  *request.mutable_params() = to_proto(params);
  grpc::ClientContext context;
  prepare(context);
  auto reader = stub_->Summarize(&context, request);
  return run_generate(context, *reader, on_text);
}

GenerateResult InfiniClient::run_generate(grpc::ClientContext& context,
                                          grpc::ClientReaderInterface<v1::GenerateResponse>& reader,
                                          const TextCallback& on_text) {
  GenerateResult result;
  // Drains what the cancelled call still delivers, so that Finish may run.
  auto cancel = [&] {
    context.TryCancel();
    v1::GenerateResponse discard;
    while (reader.Read(&discard)) {
    }
  };
  try {
    v1::GenerateResponse message;
    while (reader.Read(&message)) {
      const bool is_final =
          message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED || message.has_usage();
      if (is_final) {
        result.finish_reason = message.finish_reason();
        result.usage = message.usage();
      }
      if (!message.text().empty()) {
        result.text += message.text();
        if (on_text && !on_text(message.text()) && !is_final) {
          result.cancelled_by_client = true;
          result.finish_reason = v1::FINISH_REASON_CANCELLED;
          cancel();
          break;
        }
      }
    }
  } catch (...) {
    cancel();
    (void)reader.Finish();
    throw;
  }
  const grpc::Status status = reader.Finish();
  // The call ends CANCELLED because we asked it to; that is not a failure.
  if (result.cancelled_by_client) return result;
  check(status);
  return result;
}

}  // namespace infini::client
