// The grpcurl examples of README.md (a five-line session) and of
// docs/service.md (every method), run for real: each command is read from
// the page, its JSON is parsed into the request message exactly as grpcurl
// would, and sent to a real infini-server through the same method. So
// neither page can drift from the API without this test failing.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

namespace rv = grpc::reflection::v1alpha;

struct Command {
  std::string text;                // the command as written (for messages)
  std::string verb;                // "list", "describe" or "call"
  std::string target;              // symbol to describe, or Service/Method
  std::vector<std::string> bodies;  // JSON messages (several for -d @)
  std::string out_file;             // "> FILE": the responses, as grpcurl prints them
  std::string in_file;              // "-d @ ... < FILE": the requests come from it
};

// The ```sh block under `heading` in `page` (relative to the source tree).
std::vector<Command> page_commands(const std::string& page, const std::string& heading) {
  std::ifstream in(std::string(INFINI_SOURCE_DIR) + "/" + page);
  EXPECT_TRUE(in.good()) << page;
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const auto section = text.find("\n" + heading + "\n");
  if (section == std::string::npos) {
    ADD_FAILURE() << page << " has no heading \"" << heading << "\"";
    return {};
  }
  const auto begin = text.find("```sh\n", section);
  const auto end = text.find("```\n", begin + 6);
  if (begin == std::string::npos || end == std::string::npos) {
    ADD_FAILURE() << page << ": no ```sh block under \"" << heading << "\"";
    return {};
  }
  std::istringstream block(text.substr(begin + 6, end - begin - 6));
  std::vector<Command> out;
  std::string line;
  static const std::regex list_re(R"(^grpcurl -plaintext localhost:50051 list$)");
  static const std::regex describe_re(R"(^grpcurl -plaintext localhost:50051 describe (\S+)$)");
  static const std::regex call_re(R"(^grpcurl -plaintext -d '(.*)' localhost:50051 (\S+)$)");
  static const std::regex stream_re(R"(^grpcurl -plaintext -d @ localhost:50051 (\S+) <<EOF$)");
  static const std::regex call_out_re(
      R"(^grpcurl -plaintext -d '(.*)' localhost:50051 (\S+) > (\S+)$)");
  static const std::regex file_in_re(R"(^grpcurl -plaintext -d @ localhost:50051 (\S+) < (\S+)$)");
  std::smatch m;
  while (std::getline(block, line)) {
    if (line.empty() || line[0] == '#') continue;
    Command c;
    c.text = line;
    if (std::regex_match(line, m, list_re)) {
      c.verb = "list";
    } else if (std::regex_match(line, m, describe_re)) {
      c.verb = "describe";
      c.target = m[1];
    } else if (std::regex_match(line, m, call_out_re)) {
      c.verb = "call";
      c.bodies = {m[1]};
      c.target = m[2];
      c.out_file = m[3];
    } else if (std::regex_match(line, m, file_in_re)) {
      c.verb = "call";
      c.target = m[1];
      c.in_file = m[2];
    } else if (std::regex_match(line, m, call_re)) {
      c.verb = "call";
      c.bodies = {m[1]};
      c.target = m[2];
    } else if (std::regex_match(line, m, stream_re)) {
      c.verb = "call";
      c.target = m[1];
      while (std::getline(block, line) && line != "EOF") c.bodies.push_back(line);
    } else {
      ADD_FAILURE() << page << ": a grpcurl line this test does not understand: " << line;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

template <typename Message>
Message parse(std::string json, const std::string& session) {
  for (size_t at; (at = json.find("$SESSION")) != std::string::npos;) json.replace(at, 8, session);
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return message;
}

class ReadmeGrpcurlTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = ServerProcess::start(); }

  std::vector<rv::ServerReflectionResponse> reflect(const rv::ServerReflectionRequest& request) {
    auto stub = rv::ServerReflection::NewStub(server_->channel());
    grpc::ClientContext context;
    auto stream = stub->ServerReflectionInfo(&context);
    EXPECT_TRUE(stream->Write(request));
    stream->WritesDone();
    std::vector<rv::ServerReflectionResponse> out;
    rv::ServerReflectionResponse response;
    while (stream->Read(&response)) out.push_back(response);
    EXPECT_TRUE(stream->Finish().ok());
    return out;
  }

  // Runs one command; returns the status. Keeps the session id it learns.
  grpc::Status run(const Command& c) {
    auto stub = v1::LongContext::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    const std::string& body = c.bodies.empty() ? std::string() : c.bodies[0];
    const std::string method = c.target.substr(c.target.find('/') + 1);
    if (c.target == "grpc.health.v1.Health/Check") {
      auto health = grpc::health::v1::Health::NewStub(server_->channel());
      grpc::health::v1::HealthCheckResponse response;
      auto status = health->Check(&context, parse<grpc::health::v1::HealthCheckRequest>(body, session_),
                                  &response);
      EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
      return status;
    }
    EXPECT_EQ(c.target.rfind("infini.v1.LongContext/", 0), 0u) << c.text;
    if (method == "CreateSession") {
      v1::Session response;
      auto status = stub->CreateSession(&context, parse<v1::CreateSessionRequest>(body, session_),
                                        &response);
      session_ = response.id();
      return status;
    }
    if (method == "GetSession") {
      v1::Session response;
      auto status = stub->GetSession(&context, parse<v1::GetSessionRequest>(body, session_), &response);
      EXPECT_GT(response.tokens(), 0) << "the page's Ingest example should have filled it";
      return status;
    }
    if (method == "ListSessions") {
      v1::ListSessionsResponse response;
      auto status = stub->ListSessions(&context, parse<v1::ListSessionsRequest>(body, session_),
                                       &response);
      EXPECT_GE(response.sessions_size(), 1);
      return status;
    }
    if (method == "ForkSession") {
      v1::Session response;
      return stub->ForkSession(&context, parse<v1::ForkSessionRequest>(body, session_), &response);
    }
    if (method == "DeleteSession") {
      v1::DeleteSessionResponse response;
      return stub->DeleteSession(&context, parse<v1::DeleteSessionRequest>(body, session_),
                                 &response);
    }
    if (method == "Ingest") {
      v1::IngestResponse response;
      auto writer = stub->Ingest(&context, &response);
      for (const auto& b : c.bodies) EXPECT_TRUE(writer->Write(parse<v1::IngestRequest>(b, session_)));
      writer->WritesDone();
      auto status = writer->Finish();
      EXPECT_GT(response.tokens(), 0) << c.text;
      return status;
    }
    if (method == "Ask" || method == "Summarize") {
      std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
      if (method == "Ask") {
        reader = stub->Ask(&context, parse<v1::AskRequest>(body, session_));
      } else {
        reader = stub->Summarize(&context, parse<v1::SummarizeRequest>(body, session_));
      }
      v1::GenerateResponse response;
      bool finished = false;
      while (reader->Read(&response)) finished = response.finish_reason() != v1::FINISH_REASON_UNSPECIFIED;
      EXPECT_TRUE(finished) << "no final message with a finish reason";
      return reader->Finish();
    }
    if (method == "ExportSession") {
      // grpcurl prints each SnapshotChunk as JSON (bytes in base64); kept
      // under the file name the page redirects them to.
      auto reader = stub->ExportSession(&context, parse<v1::ExportSessionRequest>(body, session_));
      v1::SnapshotChunk chunk;
      std::vector<std::string>& file = files_[c.out_file];
      while (reader->Read(&chunk)) {
        std::string json;
        EXPECT_TRUE(google::protobuf::util::MessageToJsonString(chunk, &json).ok());
        file.push_back(json);
      }
      EXPECT_FALSE(file.empty()) << "no snapshot chunk";
      return reader->Finish();
    }
    if (method == "ImportSession") {
      EXPECT_TRUE(files_.count(c.in_file)) << c.in_file << " was not written by an earlier example";
      v1::Session response;
      auto writer = stub->ImportSession(&context, &response);
      for (const auto& json : files_[c.in_file]) {
        EXPECT_TRUE(writer->Write(parse<v1::SnapshotChunk>(json, session_)));
      }
      writer->WritesDone();
      auto status = writer->Finish();
      EXPECT_NE(response.id(), session_) << "an import gets a new id";
      EXPECT_GT(response.tokens(), 0);
      session_ = response.id();
      return status;
    }
    ADD_FAILURE() << "unknown method in the page: " << c.target;
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, c.target);
  }

  // Runs every command in order; returns the methods called.
  std::set<std::string> run_all(const std::vector<Command>& commands) {
    std::set<std::string> methods;
    for (const auto& c : commands) {
      SCOPED_TRACE(c.text);
      if (c.verb == "list") {
        rv::ServerReflectionRequest request;
        request.set_list_services("");
        auto responses = reflect(request);
        if (responses.size() != 1u) {
          ADD_FAILURE() << "reflection gave " << responses.size() << " responses";
          continue;
        }
        std::set<std::string> names;
        for (const auto& s : responses[0].list_services_response().service()) {
          names.insert(s.name());
        }
        EXPECT_TRUE(names.count("infini.v1.LongContext"));
        EXPECT_TRUE(names.count("grpc.health.v1.Health"));
      } else if (c.verb == "describe") {
        rv::ServerReflectionRequest request;
        request.set_file_containing_symbol(c.target);
        auto responses = reflect(request);
        if (responses.size() != 1u) {
          ADD_FAILURE() << "reflection gave " << responses.size() << " responses";
          continue;
        }
        bool found = false;
        for (const auto& bytes : responses[0].file_descriptor_response().file_descriptor_proto()) {
          google::protobuf::FileDescriptorProto file;
          EXPECT_TRUE(file.ParseFromString(bytes));
          for (const auto& service : file.service()) {
            found |= file.package() + "." + service.name() == c.target;
          }
        }
        EXPECT_TRUE(found) << c.target << " not described";
      } else {
        methods.insert(c.target);
        const grpc::Status status = run(c);
        EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
      }
    }
    return methods;
  }

  std::unique_ptr<ServerProcess> server_;
  std::string session_;
  std::map<std::string, std::vector<std::string>> files_;  // "> FILE" outputs
};

// The README's five-line session: the first thing a newcomer types.
TEST_F(ReadmeGrpcurlTest, ReadmeSessionWorksAgainstTheServer) {
  const auto commands = page_commands("README.md", "## Try it with grpcurl");
  ASSERT_GE(commands.size(), 5u);
  const auto methods = run_all(commands);
  for (const char* m : {"CreateSession", "Ingest", "Ask", "GetSession"}) {
    EXPECT_TRUE(methods.count(std::string("infini.v1.LongContext/") + m)) << m;
  }
}

// docs/service.md's reference: an example of every method.
TEST_F(ReadmeGrpcurlTest, ServiceReferenceExamplesWorkAgainstTheServer) {
  const auto commands = page_commands("docs/service.md", "## The API with grpcurl");
  ASSERT_GE(commands.size(), 12u);
  const auto methods = run_all(commands);
  // Every RPC of the service has an example.
  for (const char* m : {"CreateSession", "GetSession", "ListSessions", "DeleteSession",
                        "ForkSession", "Ingest", "Ask", "Summarize", "ExportSession",
                        "ImportSession"}) {
    EXPECT_TRUE(methods.count(std::string("infini.v1.LongContext/") + m)) << m;
  }
}

}  // namespace
}  // namespace infini::e2e
