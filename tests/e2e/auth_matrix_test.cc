// Bearer tokens and tenants against the real infini-server: every
// LongContext RPC under every kind of bad credential is UNAUTHENTICATED, a
// valid token of another tenant finds nothing of tenant A's (NOT_FOUND, as
// for an id that does not exist) and changes nothing, the owner succeeds;
// health stays open; no token ever reaches the server's output.
#include <signal.h>
#include <sys/stat.h>

#include <functional>
#include <set>

#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

using grpc::StatusCode;

// Tokens of the test's token file. Each is distinct, so that finding any of
// them in the server's output is a leak.
constexpr const char* kTokenA = "tenant-a-token-6f1d2c9e8b7a";
constexpr const char* kTokenARevoked = "tenant-a-old-token-0c3b5a7d9e";
constexpr const char* kTokenAExpired = "tenant-a-expired-token-4e8f1a2b";
constexpr const char* kTokenB = "tenant-b-token-9a8b7c6d5e4f";
constexpr const char* kTokenWrong = "no-such-token-1234567890abcdef";

// The credential a call carries.
enum class Credential { kNone, kMalformed, kWrong, kExpired, kRevoked, kOtherTenant, kOwner };

const char* credential_name(Credential c) {
  switch (c) {
    case Credential::kNone:
      return "no token";
    case Credential::kMalformed:
      return "malformed header";
    case Credential::kWrong:
      return "wrong token";
    case Credential::kExpired:
      return "expired token";
    case Credential::kRevoked:
      return "revoked token";
    case Credential::kOtherTenant:
      return "tenant B's token";
    case Credential::kOwner:
      return "tenant A's token";
  }
  return "?";
}

// The authorization metadata a call carries; nullopt: none.
std::optional<std::string> authorization(Credential c) {
  const std::string bearer = "Bearer ";
  switch (c) {
    case Credential::kNone:
      return std::nullopt;
    case Credential::kMalformed:
      return std::string("Token ") + kTokenA;  // the right token, not as "Bearer <token>"
    case Credential::kWrong:
      return bearer + kTokenWrong;
    case Credential::kExpired:
      return bearer + kTokenAExpired;
    case Credential::kRevoked:
      return bearer + kTokenARevoked;
    case Credential::kOtherTenant:
      return bearer + kTokenB;
    case Credential::kOwner:
      return bearer + kTokenA;
  }
  return std::nullopt;
}

void authorize(grpc::ClientContext& context, Credential c) {
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  if (const auto value = authorization(c)) context.AddMetadata("authorization", *value);
}

// By openssl's CLI, so that the test does not reuse the server's own hashing.
std::string sha256_hex(const std::string& text) {
  TempDir tmp("infini-e2e-sha");
  std::ofstream(tmp.path() / "in", std::ios::binary) << text;
  const CommandResult r =
      run_command({"/usr/bin/openssl", "dgst", "-sha256", "-r", (tmp.path() / "in").string()}, 30s);
  if (r.exit_code != 0) throw std::runtime_error("openssl dgst failed: " + r.output);
  return r.output.substr(0, 64);
}

std::string token_file_text(bool with_revoked) {
  std::string text = "# tenant token [expires=...]\n";
  text += std::string("tenant-a ") + kTokenA + "\n";
  if (with_revoked) text += std::string("tenant-a ") + kTokenARevoked + "\n";
  text += std::string("tenant-a ") + kTokenAExpired + " expires=2020-01-01T00:00:00Z\n";
  // Tenant B's token written as its digest: the file need not hold it.
  text += "tenant-b sha256:" + sha256_hex(kTokenB) + "\n";
  return text;
}

class AuthMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_tokens(token_file_text(true));
    server_ =
        ServerProcess::start({"--auth-tokens", tokens_path().string(), "--log-level", "debug"});
    stub_ = new_stub(*server_);
  }

  fs::path tokens_path() const { return dir_.path() / "tokens"; }

  // Replaced, never edited in place: a new inode, as editors and Kubernetes do.
  void write_tokens(const std::string& text) {
    const fs::path tmp = dir_.path() / "tokens.tmp";
    std::ofstream(tmp) << text;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(tmp, tokens_path());
  }

  // SIGHUP, then waits for the reload's outcome in the log ("reloaded" or
  // "not reloaded"); returns that line.
  std::string sighup_and_wait() {
    const size_t before = server_->log().size();
    EXPECT_EQ(::kill(server_->pid(), SIGHUP), 0);
    static const std::regex outcome(
        R"(SIGHUP: reloading the token file[\s\S]*?(token file [^\n]*(reloaded|in force)[^\n]*))");
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end) {
      const std::string text = server_->log().substr(before);
      std::smatch m;
      if (std::regex_search(text, m, outcome)) return m[1];
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "the server logged no reload within 20 s of SIGHUP";
    return "";
  }

  v1::Session create(Credential c, const std::map<std::string, std::string>& labels = {}) {
    grpc::ClientContext context;
    authorize(context, c);
    v1::CreateSessionRequest request;
    request.mutable_labels()->insert(labels.begin(), labels.end());
    v1::Session session;
    const grpc::Status status = stub_->CreateSession(&context, request, &session);
    EXPECT_TRUE(status.ok()) << describe(status);
    return session;
  }

  grpc::Status get(Credential c, const std::string& id, v1::Session* out) {
    grpc::ClientContext context;
    authorize(context, c);
    v1::GetSessionRequest request;
    request.set_session_id(id);
    return stub_->GetSession(&context, request, out);
  }

  std::set<std::string> list_ids(Credential c) {
    grpc::ClientContext context;
    authorize(context, c);
    v1::ListSessionsResponse response;
    const grpc::Status status = stub_->ListSessions(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    std::set<std::string> ids;
    for (const auto& s : response.sessions()) ids.insert(s.id());
    return ids;
  }

  grpc::Status ingest(Credential c, const std::string& id, const std::string& text) {
    grpc::ClientContext context;
    authorize(context, c);
    v1::IngestResponse response;
    auto writer = stub_->Ingest(&context, &response);
    for (const auto& m : text_messages(id, {text}, true)) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status export_session(Credential c, const std::string& id, std::string* bytes) {
    grpc::ClientContext context;
    authorize(context, c);
    v1::ExportSessionRequest request;
    request.set_session_id(id);
    auto reader = stub_->ExportSession(&context, request);
    v1::SnapshotChunk chunk;
    while (reader->Read(&chunk)) bytes->append(chunk.data());
    return reader->Finish();
  }

  grpc::Status import_session(Credential c, const std::string& bytes, v1::Session* out) {
    grpc::ClientContext context;
    authorize(context, c);
    auto writer = stub_->ImportSession(&context, out);
    v1::SnapshotChunk chunk;
    chunk.set_data(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status delete_session(Credential c, const std::string& id) {
    grpc::ClientContext context;
    authorize(context, c);
    v1::DeleteSessionRequest request;
    request.set_session_id(id);
    v1::DeleteSessionResponse response;
    return stub_->DeleteSession(&context, request, &response);
  }

  // A session of tenant A exported and then deleted: bytes to import.
  std::string exported_and_deleted() {
    const v1::Session s = create(Credential::kOwner, {{"for", "import"}});
    std::string bytes;
    const grpc::Status exported = export_session(Credential::kOwner, s.id(), &bytes);
    EXPECT_TRUE(exported.ok()) << describe(exported);
    EXPECT_TRUE(delete_session(Credential::kOwner, s.id()).ok());
    return bytes;
  }

  TempDir dir_{"infini-e2e-auth"};
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::LongContext::Stub> stub_;
};

// The fixture of the matrix: tenant A's session with a document in it, and
// the snapshots to import.
struct Targets {
  std::string session;           // tenant A's, the target of every call
  std::string owner_deletable;   // tenant A's, for the owner's DeleteSession
  std::string import_for_other;  // an exported (then deleted) session of A's
  std::string import_for_owner;
};

TEST_F(AuthMatrixTest, EveryRpcUnderEveryCredential) {
  // The revoked token works until it is removed and the server is told.
  const v1::Session session = create(Credential::kOwner, {{"owner", "a"}});
  ASSERT_TRUE(ingest(Credential::kOwner, session.id(), make_document(4000)).ok());
  v1::Session before;
  ASSERT_TRUE(get(Credential::kRevoked, session.id(), &before).ok());
  ASSERT_GT(before.tokens(), 0);
  write_tokens(token_file_text(false));
  const std::string reload = sighup_and_wait();
  ASSERT_NE(reload.find("reloaded: 3 tokens"), std::string::npos) << reload;

  Targets t;
  t.session = session.id();
  t.owner_deletable = create(Credential::kOwner).id();
  t.import_for_other = exported_and_deleted();
  t.import_for_owner = exported_and_deleted();

  using Call = std::function<grpc::Status(Credential)>;
  const v1::GenerationParams params = greedy_params(3);
  const std::map<std::string, Call> calls = {
      {"CreateSession",
       [&](Credential c) {
         grpc::ClientContext context;
         authorize(context, c);
         v1::Session out;
         return stub_->CreateSession(&context, {}, &out);
       }},
      {"GetSession",
       [&](Credential c) {
         v1::Session out;
         return get(c, t.session, &out);
       }},
      {"ListSessions",
       [&](Credential c) {
         grpc::ClientContext context;
         authorize(context, c);
         v1::ListSessionsResponse out;
         const grpc::Status status = stub_->ListSessions(&context, {}, &out);
         // Only the caller's own sessions.
         for (const auto& s : out.sessions()) {
           EXPECT_TRUE(c == Credential::kOwner || s.id() != t.session) << credential_name(c);
         }
         return status;
       }},
      {"DeleteSession",
       [&](Credential c) {
         return delete_session(c, c == Credential::kOwner ? t.owner_deletable : t.session);
       }},
      {"ForkSession",
       [&](Credential c) {
         grpc::ClientContext context;
         authorize(context, c);
         v1::ForkSessionRequest request;
         request.set_session_id(t.session);
         v1::Session out;
         return stub_->ForkSession(&context, request, &out);
       }},
      {"Ingest",
       [&](Credential c) { return ingest(c, t.session, "More text, from whoever calls. "); }},
      {"Ask",
       [&](Credential c) {
         grpc::ClientContext context;
         authorize(context, c);
         v1::AskRequest request;
         request.set_session_id(t.session);
         request.set_question("What?");
         *request.mutable_params() = params;
         auto reader = stub_->Ask(&context, request);
         return read_generation(context, *reader, std::chrono::steady_clock::now()).status;
       }},
      {"Summarize",
       [&](Credential c) {
         grpc::ClientContext context;
         authorize(context, c);
         v1::SummarizeRequest request;
         request.set_session_id(t.session);
         *request.mutable_params() = params;
         auto reader = stub_->Summarize(&context, request);
         return read_generation(context, *reader, std::chrono::steady_clock::now()).status;
       }},
      {"ExportSession",
       [&](Credential c) {
         std::string bytes;
         const grpc::Status status = export_session(c, t.session, &bytes);
         if (c != Credential::kOwner) EXPECT_TRUE(bytes.empty()) << credential_name(c);
         return status;
       }},
      {"ImportSession",
       [&](Credential c) {
         v1::Session out;
         return import_session(c, c == Credential::kOwner ? t.import_for_owner : t.import_for_other,
                               &out);
       }},
  };

  // The matrix. Rows: every LongContext RPC; columns: the credentials, run
  // left to right. CreateSession / ListSessions / ImportSession of tenant B
  // succeed in tenant B's own space (checked after the matrix).
  constexpr StatusCode U = StatusCode::UNAUTHENTICATED, N = StatusCode::NOT_FOUND,
                       OK = StatusCode::OK;
  const std::vector<Credential> columns = {Credential::kNone,    Credential::kMalformed,
                                           Credential::kWrong,   Credential::kExpired,
                                           Credential::kRevoked, Credential::kOtherTenant};
  struct Row {
    const char* rpc;
    StatusCode expected[6];  // per column above
  };
  // clang-format off
  const Row matrix[] = {
      //                none malformed wrong expired revoked tenant-B
      {"CreateSession", {U, U, U, U, U, OK}},
      {"GetSession",    {U, U, U, U, U, N}},
      {"ListSessions",  {U, U, U, U, U, OK}},
      {"DeleteSession", {U, U, U, U, U, N}},
      {"ForkSession",   {U, U, U, U, U, N}},
      {"Ingest",        {U, U, U, U, U, N}},
      {"Ask",           {U, U, U, U, U, N}},
      {"Summarize",     {U, U, U, U, U, N}},
      {"ExportSession", {U, U, U, U, U, N}},
      {"ImportSession", {U, U, U, U, U, OK}},
  };
  // clang-format on
  ASSERT_EQ(std::size(matrix), calls.size()) << "every RPC has a row";

  const std::string not_found_message = "session '" + t.session + "' not found";
  for (const Row& row : matrix) {
    for (size_t col = 0; col < columns.size(); ++col) {
      const Credential c = columns[col];
      SCOPED_TRACE(std::string(row.rpc) + " with " + credential_name(c));
      const grpc::Status status = calls.at(row.rpc)(c);
      EXPECT_EQ(status.error_code(), row.expected[col]) << describe(status);
      for (const char* token : {kTokenA, kTokenARevoked, kTokenAExpired, kTokenB, kTokenWrong}) {
        EXPECT_EQ(status.error_message().find(token), std::string::npos) << describe(status);
      }
      if (row.expected[col] == N) {
        // Word for word what an id that does not exist gets.
        EXPECT_EQ(status.error_message().substr(0, not_found_message.size()), not_found_message);
      }
      if (c == Credential::kExpired) EXPECT_EQ(status.error_message(), "token expired");
      if (c == Credential::kNone) {
        EXPECT_NE(status.error_message().find("missing credentials"), std::string::npos);
      }
    }
  }

  // Nothing of tenant A's changed: the same tokens, still listed for A only,
  // and B's session and import are B's alone.
  v1::Session after;
  ASSERT_TRUE(get(Credential::kOwner, t.session, &after).ok());
  EXPECT_EQ(after.tokens(), before.tokens());
  EXPECT_EQ(after.pending_text_bytes(), before.pending_text_bytes());
  const std::set<std::string> of_a = list_ids(Credential::kOwner);
  const std::set<std::string> of_b = list_ids(Credential::kOtherTenant);
  EXPECT_TRUE(of_a.count(t.session));
  EXPECT_TRUE(of_a.count(t.owner_deletable));
  EXPECT_FALSE(of_b.count(t.session));
  EXPECT_EQ(of_b.size(), 2u) << "B's CreateSession and ImportSession";
  for (const auto& id : of_b) {
    EXPECT_FALSE(of_a.count(id)) << id;
    v1::Session out;
    EXPECT_EQ(get(Credential::kOwner, id, &out).error_code(), N);
  }

  // The positive control: the owner succeeds at every RPC.
  for (const auto& [rpc, call] : calls) {
    SCOPED_TRACE(rpc + " with " + credential_name(Credential::kOwner));
    const grpc::Status status = call(Credential::kOwner);
    EXPECT_TRUE(status.ok()) << describe(status);
  }
  ASSERT_TRUE(get(Credential::kOwner, t.session, &after).ok());
  EXPECT_GT(after.tokens() + after.pending_text_bytes(),
            before.tokens() + before.pending_text_bytes());
  EXPECT_FALSE(list_ids(Credential::kOwner).count(t.owner_deletable));

  // Failures are counted by reason.
  const auto samples = scrape(*server_);
  const std::string name = "infini_auth_failures_total";
  EXPECT_EQ(metric_value(samples, name, {{"reason", "missing"}}), 10);
  EXPECT_EQ(metric_value(samples, name, {{"reason", "expired"}}), 10);
  EXPECT_EQ(metric_value(samples, name, {{"reason", "invalid"}}), 30);

  // No token anywhere in the server's output, at debug level.
  const std::string log = server_->log();
  for (const char* token : {kTokenA, kTokenARevoked, kTokenAExpired, kTokenB, kTokenWrong}) {
    EXPECT_EQ(log.find(token), std::string::npos) << token << " is in the server's log";
  }
  EXPECT_NE(log.find("metrics: serving /metrics"), std::string::npos) << "debug lines are logged";
}

TEST_F(AuthMatrixTest, HealthAndReflectionNeedNoToken) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("infini.v1.LongContext");
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(server_->channel())->Check(&context, request, &response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // Reflection (grpcurl's discovery) lists the services without a token.
  namespace rv = grpc::reflection::v1alpha;
  grpc::ClientContext reflection_context;
  reflection_context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto stream =
      rv::ServerReflection::NewStub(server_->channel())->ServerReflectionInfo(&reflection_context);
  rv::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  rv::ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::set<std::string> services;
  for (const auto& s : listed.list_services_response().service()) services.insert(s.name());
  EXPECT_TRUE(services.count("infini.v1.LongContext"));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  // ...while the service itself does.
  v1::Session out;
  EXPECT_EQ(get(Credential::kNone, "0123456789abcdef0123456789abcdef", &out).error_code(),
            StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthMatrixTest, ABrokenTokenFileKeepsTheTokensInForce) {
  write_tokens(std::string("tenant-a ") + kTokenA + "\nthis line has no token\n");
  const std::string reload = sighup_and_wait();
  EXPECT_NE(reload.find("not reloaded"), std::string::npos) << reload;
  EXPECT_NE(reload.find(":2:"), std::string::npos) << reload;
  // B's token (absent from the broken file) still works: the old table stands.
  v1::Session out;
  EXPECT_EQ(get(Credential::kOtherTenant, "0123456789abcdef0123456789abcdef", &out).error_code(),
            StatusCode::NOT_FOUND);
  // Fixed without B: B is refused from then on.
  write_tokens(std::string("tenant-a ") + kTokenA + "\n");
  EXPECT_NE(sighup_and_wait().find("reloaded: 1 tokens"), std::string::npos);
  EXPECT_EQ(get(Credential::kOtherTenant, "0123456789abcdef0123456789abcdef", &out).error_code(),
            StatusCode::UNAUTHENTICATED);
}

// A session's owner survives a restart: the snapshot keeps the tenant.
TEST_F(AuthMatrixTest, SnapshotsKeepTheOwnerAcrossARestart) {
  const fs::path snapshots = dir_.path() / "snapshots";
  const std::vector<std::string> flags = {"--auth-tokens", tokens_path().string(),
                                          "--snapshot-dir", snapshots.string()};
  server_ = ServerProcess::start(flags);
  stub_ = new_stub(*server_);
  const v1::Session session = create(Credential::kOwner);
  ASSERT_TRUE(ingest(Credential::kOwner, session.id(), "Words to keep. ").ok());
  ASSERT_EQ(server_->stop(), 0);

  server_ = ServerProcess::start(flags);
  stub_ = new_stub(*server_);
  v1::Session out;
  EXPECT_TRUE(get(Credential::kOwner, session.id(), &out).ok());
  EXPECT_EQ(get(Credential::kOtherTenant, session.id(), &out).error_code(),
            StatusCode::NOT_FOUND);
  EXPECT_TRUE(list_ids(Credential::kOwner).count(session.id()));
  EXPECT_FALSE(list_ids(Credential::kOtherTenant).count(session.id()));
}

// Startup checks of the token file, without the matrix's server.
class AuthStartupTest : public ::testing::Test {
 protected:
  TempDir dir_{"infini-e2e-auth-start"};
};

TEST_F(AuthStartupTest, ABadTokenFileStopsTheServerNamingFileAndLine) {
  const fs::path bad = dir_.path() / "bad-tokens";
  std::ofstream(bad) << "tenant-a short\n";
  fs::permissions(bad, fs::perms::owner_read | fs::perms::owner_write);
  try {
    ServerProcess::start({"--auth-tokens", bad.string()});
    ADD_FAILURE() << "the server started with a bad token file";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(bad.string() + ":1:"), std::string::npos) << what;
    EXPECT_EQ(what.find("short"), std::string::npos) << "the token is not echoed: " << what;
  }
}

TEST_F(AuthStartupTest, AWorldReadableTokenFileIsWarnedAbout) {
  const fs::path open_file = dir_.path() / "open-tokens";
  std::ofstream(open_file) << "tenant-a " << kTokenA << "\n";
  fs::permissions(open_file, fs::perms::owner_read | fs::perms::owner_write |
                                 fs::perms::group_read | fs::perms::others_read);
  auto server = ServerProcess::start({"--auth-tokens", open_file.string()});
  EXPECT_NE(server->log().find("accessible to group/other"), std::string::npos) << server->log();
}

}  // namespace
}  // namespace infini::e2e
