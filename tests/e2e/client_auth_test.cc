// The client side of bearer tokens against the real infini-server run with
// --auth-tokens: ClientOptions::bearer_token on every call of the library,
// and infini-client's --token-file and INFINI_TOKEN (never a --token flag).
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

constexpr const char* kToken = "client-test-token-7d3a9c1e5b";
constexpr const char* kOtherToken = "client-test-other-token-2f8e6a";

class ClientAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("infini-e2e-client-auth");
    const fs::path tokens = dir_->path() / "tokens";
    std::ofstream(tokens) << "tenant-a " << kToken << "\ntenant-b " << kOtherToken << "\n";
    fs::permissions(tokens, fs::perms::owner_read | fs::perms::owner_write);
    try {
      server_ = ServerProcess::start({"--auth-tokens", tokens.string()}).release();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << start_error_; }

  static client::InfiniClient client_with(const std::string& token) {
    client::ClientOptions options;
    options.bearer_token = token;
    options.call_timeout = std::chrono::seconds(30);
    return client::InfiniClient(server_->target(), options);
  }

  // infini-client with `env` ("NAME=value") added to its environment.
  static CommandResult cli(const std::vector<std::string>& args,
                           const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(bin_path("infini-client"));
    argv.insert(argv.end(), {"--server", server_->target()});
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 60s);
  }

  static fs::path token_file(const std::string& name, const std::string& text) {
    const fs::path path = dir_->path() / name;
    std::ofstream(path) << text;
    return path;
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
  static inline std::string start_error_;
};

TEST_F(ClientAuthTest, LibrarySendsTheTokenOnEveryCall) {
  auto a = client_with(kToken);
  const v1::Session session = a.create_session({{"who", "a"}});
  EXPECT_EQ(a.get_session(session.id()).id(), session.id());
  a.ingest("A few words for the session. ", {.session_id = session.id()});
  EXPECT_GT(a.get_session(session.id()).tokens() + a.get_session(session.id()).pending_text_bytes(),
            0);
  EXPECT_EQ(a.health(), "SERVING");

  // Another tenant's client does not see it; one without a token is refused.
  auto b = client_with(kOtherToken);
  try {
    b.get_session(session.id());
    ADD_FAILURE() << "tenant B read tenant A's session";
  } catch (const client::ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND) << e.what();
  }
  for (const auto& s : b.list_all_sessions()) EXPECT_NE(s.id(), session.id());
  auto anonymous = client_with("");
  try {
    anonymous.list_sessions();
    ADD_FAILURE() << "a call without a token was accepted";
  } catch (const client::ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::UNAUTHENTICATED) << e.what();
  }
  EXPECT_EQ(anonymous.health(), "SERVING") << "health needs no token";
  a.delete_session(session.id());
}

TEST_F(ClientAuthTest, LibraryRefusesATokenMetadataCannotCarry) {
  for (const std::string bad :
       {"two words-0123456789", "new\nline-0123456789", "caf\xc3\xa9-token"}) {
    try {
      client_with(bad);
      ADD_FAILURE() << "accepted a token with a space, control or non-ASCII character";
    } catch (const client::ClientError& e) {
      EXPECT_EQ(e.code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST_F(ClientAuthTest, CliReadsTokenFileOrEnvironment) {
  // The file's first line, surrounding whitespace ignored.
  const fs::path file = token_file("token", std::string("  ") + kToken + "  \n# ignored\n");
  CommandResult r = cli({"--token-file", file.string(), "sessions", "ls"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = cli({"sessions", "ls"}, {std::string("INFINI_TOKEN=") + kToken});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The file beats the variable.
  r = cli({"--token-file", file.string(), "sessions", "ls"},
          {"INFINI_TOKEN=wrong-token-0123456789"});
  EXPECT_EQ(r.exit_code, 0) << r.output;

  r = cli({"sessions", "ls"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("UNAUTHENTICATED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing credentials"), std::string::npos) << r.output;

  const std::string wrong = "wrong-token-abcdef0123456789";
  r = cli({"--token-file", token_file("wrong", wrong + "\n").string(), "sessions", "ls"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("invalid bearer token"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(wrong), std::string::npos) << r.output;

  // Health stays open for probes.
  EXPECT_EQ(cli({"health"}).exit_code, 0);
}

TEST_F(ClientAuthTest, CliTokenFileErrorsAreUsageErrors) {
  const fs::path missing = dir_->path() / "no-such-file";
  CommandResult r = cli({"--token-file", missing.string(), "sessions", "ls"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(missing.string()), std::string::npos) << r.output;
  r = cli({"--token-file", token_file("empty", "\n").string(), "sessions", "ls"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("holds no token"), std::string::npos) << r.output;
  // There is no --token flag: a command line is visible to everyone in ps.
  r = cli({"--token", kToken, "sessions", "ls"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_command({bin_path("infini-client"), "--help"});
  EXPECT_NE(r.output.find("--token-file FILE"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("INFINI_TOKEN"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace infini::e2e
