// An in-process fake LongContext service that records what arrives and
// answers from a script, and the test fixture that serves it on loopback:
// what the client library and infini-client tests run against.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "client/infini_client.h"

namespace infini::client {

using namespace std::chrono_literals;

class FakeLongContext final : public v1::LongContext::Service {
 public:
  // ---- scripted behaviour ----
  std::vector<std::string> deltas = {"The ", "answer ", "is ", "4", "2."};
  bool generate_forever = false;   // deltas until the client cancels
  int generate_error_after = -1;   // fail with RESOURCE_EXHAUSTED after this many deltas
  int ingest_error_after = -1;     // fail with INVALID_ARGUMENT after this many messages
  int session_count = 7;           // sessions s00, s01, ... listed
  bool repeat_page_token = false;  // a broken server that never advances

  // ---- what arrived ----
  std::mutex mu;
  std::vector<std::vector<v1::IngestRequest>> ingests;  // one entry per call
  std::vector<v1::ListSessionsRequest> list_requests;
  v1::CreateSessionRequest last_create;
  v1::ForkSessionRequest last_fork;
  std::vector<std::string> deleted;
  v1::AskRequest last_ask;
  v1::SummarizeRequest last_summarize;
  std::atomic<bool> saw_cancel{false};
  std::atomic<int> forever_deltas_written{0};

  grpc::Status CreateSession(grpc::ServerContext*, const v1::CreateSessionRequest* request,
                             v1::Session* session) override {
    std::lock_guard lock(mu);
    last_create = *request;
    session->set_id("created-1");
    *session->mutable_labels() = request->labels();
    return grpc::Status::OK;
  }

  grpc::Status GetSession(grpc::ServerContext* context, const v1::GetSessionRequest* request,
                          v1::Session* session) override {
    if (request->session_id() == "slow") {
      for (int i = 0; i < 500 && !context->IsCancelled(); ++i) std::this_thread::sleep_for(10ms);
    }
    if (request->session_id() != "s01") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "session " + request->session_id() + " not found");
    }
    session->set_id("s01");
    session->set_tokens(1234);
    return grpc::Status::OK;
  }

  grpc::Status ListSessions(grpc::ServerContext*, const v1::ListSessionsRequest* request,
                            v1::ListSessionsResponse* response) override {
    std::lock_guard lock(mu);
    list_requests.push_back(*request);
    const int size = request->page_size() > 0 ? request->page_size() : 100;
    const int start = request->page_token().empty() ? 0 : std::stoi(request->page_token());
    for (int i = start; i < std::min(start + size, session_count); ++i) {
      v1::Session* s = response->add_sessions();
      s->set_id((i < 10 ? "s0" : "s") + std::to_string(i));
      s->set_tokens(1000 * i);
      s->set_segments(i);
      s->set_state_bytes(4 << 20);
      s->set_compression_ratio(12.5 * i);
      s->mutable_last_used_at()->set_seconds(1700000000 + i);
    }
    if (repeat_page_token) {
      response->set_next_page_token("3");
    } else if (start + size < session_count) {
      response->set_next_page_token(std::to_string(start + size));
    }
    return grpc::Status::OK;
  }

  grpc::Status DeleteSession(grpc::ServerContext*, const v1::DeleteSessionRequest* request,
                             v1::DeleteSessionResponse*) override {
    std::lock_guard lock(mu);
    deleted.push_back(request->session_id());
    return grpc::Status::OK;
  }

  grpc::Status ForkSession(grpc::ServerContext*, const v1::ForkSessionRequest* request,
                           v1::Session* session) override {
    std::lock_guard lock(mu);
    last_fork = *request;
    session->set_id("fork-of-" + request->session_id());
    return grpc::Status::OK;
  }

  grpc::Status Ingest(grpc::ServerContext*, grpc::ServerReader<v1::IngestRequest>* reader,
                      v1::IngestResponse* response) override {
    std::vector<v1::IngestRequest> messages;
    v1::IngestRequest message;
    int64_t bytes = 0;
    while (reader->Read(&message)) {
      bytes += static_cast<int64_t>(message.text_bytes().size());
      messages.push_back(message);
      if (static_cast<int>(messages.size()) == ingest_error_after) {
        record(std::move(messages));
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid UTF-8 at byte 13");
      }
    }
    const std::string id =
        messages.empty() || messages[0].session_id().empty() ? "new-1" : messages[0].session_id();
    response->set_chunks(static_cast<int64_t>(messages.size()));
    response->set_bytes(bytes);
    response->set_tokens(bytes / 4);
    response->set_segments(bytes / 4 / 2048);
    response->set_seconds(0.5);
    v1::Session* session = response->mutable_session();
    session->set_id(id);
    session->set_tokens(bytes / 4);
    session->set_state_bytes(4 << 20);
    session->set_kv_equivalent_bytes(64 << 20);
    session->set_compression_ratio(16.0);
    record(std::move(messages));
    return grpc::Status::OK;
  }

  grpc::Status Ask(grpc::ServerContext* context, const v1::AskRequest* request,
                   grpc::ServerWriter<v1::GenerateResponse>* writer) override {
    {
      std::lock_guard lock(mu);
      last_ask = *request;
    }
    return generate(context, writer);
  }

  grpc::Status Summarize(grpc::ServerContext* context, const v1::SummarizeRequest* request,
                         grpc::ServerWriter<v1::GenerateResponse>* writer) override {
    {
      std::lock_guard lock(mu);
      last_summarize = *request;
    }
    return generate(context, writer);
  }

 private:
  void record(std::vector<v1::IngestRequest> messages) {
    std::lock_guard lock(mu);
    ingests.push_back(std::move(messages));
  }

  grpc::Status generate(grpc::ServerContext* context,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) {
    v1::GenerateResponse message;
    if (generate_forever) {
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      for (int i = 0; std::chrono::steady_clock::now() < give_up; ++i) {
        message.set_text("t" + std::to_string(i) + " ");
        if (context->IsCancelled() || !writer->Write(message)) {
          saw_cancel = true;
          return grpc::Status::CANCELLED;
        }
        ++forever_deltas_written;
        std::this_thread::sleep_for(1ms);
      }
      return grpc::Status(grpc::StatusCode::INTERNAL, "the client never cancelled");
    }
    for (size_t i = 0; i < deltas.size(); ++i) {
      if (static_cast<int>(i) == generate_error_after) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "scheduler queue is full");
      }
      message.set_text(deltas[i]);
      writer->Write(message);
    }
    v1::GenerateResponse last;
    last.set_finish_reason(v1::FINISH_REASON_STOP);
    last.mutable_usage()->set_prompt_tokens(11);
    last.mutable_usage()->set_generated_tokens(static_cast<int64_t>(deltas.size()));
    last.mutable_usage()->set_time_to_first_token_seconds(0.25);
    last.mutable_usage()->set_tokens_per_second(16.0);
    last.mutable_usage()->set_total_seconds(0.5);
    writer->Write(last);
    return grpc::Status::OK;
  }
};

// Text with multi-byte characters, so that small chunks cut inside them.
inline std::string make_document(size_t min_bytes) {
  const char* pieces[] = {"plain words ", "naïve café ", "日本語のテキスト ", "emoji 🙂 ",
                          "line\n"};
  std::string doc;
  for (size_t i = 0; doc.size() < min_bytes; ++i) {
    doc += pieces[i % 5];
    doc += std::to_string(i);
  }
  return doc;
}

// A stream that cannot seek, like a pipe: its size is unknown up front.
class PipeBuf : public std::streambuf {
 public:
  explicit PipeBuf(std::string data) : data_(std::move(data)) {
    setg(data_.data(), data_.data(), data_.data() + data_.size());
  }

 private:
  std::string data_;
};

class ClientLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
    address_ = "127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  std::vector<v1::IngestRequest> only_ingest() {
    std::lock_guard lock(service_.mu);
    EXPECT_EQ(service_.ingests.size(), 1u);
    return service_.ingests.empty() ? std::vector<v1::IngestRequest>{} : service_.ingests[0];
  }

  FakeLongContext service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
};

template <typename Call>
void expect_client_error(Call call, grpc::StatusCode code, const std::string& message) {
  try {
    call();
    ADD_FAILURE() << "expected ClientError " << status_code_name(code);
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.message(), message);
    EXPECT_EQ(std::string(e.what()), std::string(status_code_name(code)) + ": " + message);
  }
}

}  // namespace infini::client
