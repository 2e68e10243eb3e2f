// Test documents and raw LongContext calls for e2e tests: texts of known
// content, chunkings, ingest/ask/summarize through a generated stub with
// every message and status kept for checking.
#pragma once

#include "tests/e2e/server_process.h"

namespace infini::e2e {

// ---- documents ----

// tests/data/text/english.txt (about 35 KB of English prose).
inline const std::string& english_text() {
  static const std::string text =
      read_file(std::string(INFINI_TEST_DATA_DIR) + "/text/english.txt");
  return text;
}

// Non-ASCII text of 2-, 3- and 4-byte characters, to be cut inside characters.
inline const std::string& unicode_text() {
  static const std::string text =
      "\nGr\xC3\xB6\xC3\x9F"
      "e, na\xC3\xAF"
      "ve caf\xC3\xA9 \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC"
      "\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88, "
      "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC \xF0\x9F\x8E\x89 "
      "\xD0\xA0\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 \xE2\x82\xAC"
      "42.\n";
  return text;
}

// english.txt with non-ASCII paragraphs mixed in, repeated to at least
// `bytes` bytes; `variant` rotates the text so documents differ.
inline std::string make_document(size_t bytes, size_t variant = 0) {
  const std::string& base = english_text();
  const size_t rotate = (variant * 7919) % base.size();
  std::string rotated = base.substr(rotate) + base.substr(0, rotate);
  std::string doc = "Document " + std::to_string(variant) + ".\n";
  size_t pos = 0;
  while (doc.size() < bytes) {
    // Paragraph-sized pieces with a Unicode paragraph between them.
    const size_t n = std::min<size_t>(4000, rotated.size() - pos);
    doc += rotated.substr(pos, n);
    doc += unicode_text();
    pos = (pos + n) % rotated.size();
  }
  return doc;
}

// ---- raw RPCs ----

// A stop string no model output contains: generation runs to max_tokens (or
// end-of-text) instead of stopping at the template's "\n".
inline constexpr const char* kNeverStop = "<never-occurs>";

inline v1::GenerationParams greedy_params(int32_t max_tokens) {
  v1::GenerationParams p;
  p.set_max_tokens(max_tokens);
  p.set_temperature(0.0f);
  p.add_stop(kNeverStop);
  return p;
}

inline std::unique_ptr<v1::LongContext::Stub> new_stub(const ServerProcess& server) {
  return v1::LongContext::NewStub(server.channel());
}

// Ingest messages: the first names `session_id` (empty: create), each
// carries one chunk as text_bytes, the last asks for a flush if `flush`.
inline std::vector<v1::IngestRequest> text_messages(const std::string& session_id,
                                                    const std::vector<std::string>& chunks,
                                                    bool flush) {
  std::vector<v1::IngestRequest> messages;
  for (const auto& chunk : chunks) {
    v1::IngestRequest m;
    m.set_text_bytes(chunk);
    messages.push_back(std::move(m));
  }
  if (messages.empty()) messages.emplace_back();
  if (session_id.empty())
    messages.front().mutable_create();
  else
    messages.front().set_session_id(session_id);
  if (flush) messages.back().set_flush(true);
  return messages;
}

struct IngestCall {
  grpc::Status status;
  v1::IngestResponse response;
  int written = 0;  // messages the stream accepted
};

inline IngestCall ingest_raw(v1::LongContext::Stub& stub,
                             const std::vector<v1::IngestRequest>& messages,
                             std::chrono::milliseconds timeout = 120s) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  IngestCall call;
  auto writer = stub.Ingest(&context, &call.response);
  for (const auto& m : messages) {
    if (!writer->Write(m)) break;  // the server ended the call; Finish says why
    ++call.written;
  }
  writer->WritesDone();
  call.status = writer->Finish();
  return call;
}

// Splits `text` into chunks of random sizes in [1, max_chunk] (cuts land
// anywhere, inside UTF-8 characters too).
inline std::vector<std::string> random_chunks(const std::string& text, size_t max_chunk,
                                              uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> size(1, max_chunk);
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(size(rng), text.size() - pos);
    chunks.push_back(text.substr(pos, n));
    pos += n;
  }
  return chunks;
}

inline std::vector<std::string> fixed_chunks(const std::string& text, size_t chunk) {
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos < text.size(); pos += chunk) chunks.push_back(text.substr(pos, chunk));
  return chunks;
}

struct Generation {
  grpc::Status status;
  std::string text;        // all deltas
  int text_messages = 0;   // messages before the final one
  bool has_final = false;  // a message with a finish reason arrived
  v1::GenerateResponse final_message;
  double seconds = 0.0;
};

inline Generation read_generation(grpc::ClientContext& context,
                                  grpc::ClientReader<v1::GenerateResponse>& reader,
                                  std::chrono::steady_clock::time_point start) {
  (void)context;
  Generation g;
  v1::GenerateResponse m;
  while (reader.Read(&m)) {
    g.text += m.text();
    if (m.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      g.has_final = true;
      g.final_message = m;
    } else {
      ++g.text_messages;
    }
  }
  g.status = reader.Finish();
  g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return g;
}

inline Generation ask_raw(v1::LongContext::Stub& stub, const std::string& session_id,
                          const std::string& question, const v1::GenerationParams& params,
                          std::chrono::milliseconds timeout = 60s) {
  grpc::ClientContext context;
  const auto start = std::chrono::steady_clock::now();
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::AskRequest request;
  request.set_session_id(session_id);
  request.set_question(question);
  *request.mutable_params() = params;
  auto reader = stub.Ask(&context, request);
  return read_generation(context, *reader, start);
}

inline Generation summarize_raw(v1::LongContext::Stub& stub, const std::string& session_id,
                                const v1::GenerationParams& params,
                                std::chrono::milliseconds timeout = 60s) {
  grpc::ClientContext context;
  const auto start = std::chrono::steady_clock::now();
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::SummarizeRequest request;
  request.set_session_id(session_id);
  *request.mutable_params() = params;
  auto reader = stub.Summarize(&context, request);
  return read_generation(context, *reader, start);
}

inline grpc::Status get_session(v1::LongContext::Stub& stub, const std::string& id,
                                v1::Session* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::GetSessionRequest request;
  request.set_session_id(id);
  return stub.GetSession(&context, request, out);
}

// "code: message" for assertion output.
inline std::string describe(const grpc::Status& status) {
  return std::string(client::status_code_name(status.error_code())) + ": " + status.error_message();
}

}  // namespace infini::e2e
