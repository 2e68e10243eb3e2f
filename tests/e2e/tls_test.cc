// TLS end to end with the real infini-server: gRPC over TLS (and mutual TLS
// with --tls-client-ca), /metrics over https, infini-client health over TLS,
// and the server refusing to start on bad TLS flags and files, naming them.
// Certificates come from tests/e2e/test_certificates.h (openssl CLI).
#include "tests/e2e/e2e_support.h"
#include "tests/e2e/test_certificates.h"

namespace infini::e2e {
namespace {

using client::ClientError;
using client::ClientOptions;
using client::InfiniClient;

const TestCertificates& certificates() {
  static const TestCertificates* pki = new TestCertificates();  // made once per binary
  return *pki;
}

// The second line of a PEM key file: base64 that must never be logged.
std::string key_body(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  return line;
}

std::string localhost_target(const ServerProcess& server) {
  return "localhost:" + std::to_string(server.grpc_port());
}

ClientOptions trusting(const std::string& ca_file) {
  ClientOptions options;
  options.call_timeout = std::chrono::seconds(30);  // a bound, not a measurement
  options.tls_ca_file = ca_file;
  return options;
}

// The status code a call ends with ("OK" when it succeeds).
std::string health_code(const std::string& target, const ClientOptions& options) {
  try {
    InfiniClient(target, options).health();
    return "OK";
  } catch (const ClientError& e) {
    return std::string(client::status_code_name(e.code())) + ": " + e.message();
  }
}

CommandResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--fail", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 30s);
}

std::vector<std::string> tls_server_flags() {
  const auto& pki = certificates();
  return {"--tls-cert",         pki.server_cert(), "--tls-key",         pki.server_key(),
          "--metrics-tls-cert", pki.server_cert(), "--metrics-tls-key", pki.server_key()};
}

class TlsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      server_ = ServerProcess::start(tls_server_flags()).release();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << start_error_; }
  static ServerProcess& server() { return *server_; }

 private:
  static inline ServerProcess* server_ = nullptr;
  static inline std::string start_error_;
};

TEST_F(TlsServerTest, ClientTrustingTheCaCreatesIngestsAndAsks) {
  InfiniClient client(localhost_target(server()), trusting(certificates().ca()));
  const v1::Session session = client.create_session({{"tls", "yes"}});
  const auto ingested = client.ingest(english_text().substr(0, 4000), {.session_id = session.id()});
  EXPECT_GT(ingested.tokens(), 0);
  client::GenerationParams params;
  params.max_tokens = 4;
  params.stop = {kNeverStop};
  const auto answer = client.ask(session.id(), "What was read?", params);
  EXPECT_EQ(answer.usage.generated_tokens(), 4);
  EXPECT_EQ(client.health(), "SERVING");
}

TEST_F(TlsServerTest, ServerNameOverrideChecksTheCertificateName) {
  // 127.0.0.1 is in the certificate too; the override makes the client check
  // "localhost" instead, and a name the certificate lacks fails.
  ClientOptions options = trusting(certificates().ca());
  options.tls_server_name = "localhost";
  EXPECT_EQ(health_code(server().target(), options), "OK");
  options.tls_server_name = "not-this-server.example";
  EXPECT_NE(health_code(server().target(), options), "OK");
}

TEST_F(TlsServerTest, PlaintextClientFails) {
  ClientOptions plaintext;
  plaintext.call_timeout = std::chrono::seconds(30);
  EXPECT_EQ(health_code(server().target(), plaintext).rfind("UNAVAILABLE", 0), 0u)
      << health_code(server().target(), plaintext);
}

TEST_F(TlsServerTest, ClientNotTrustingTheCaFails) {
  const std::string code =
      health_code(localhost_target(server()), trusting(certificates().other_ca()));
  EXPECT_EQ(code.rfind("UNAVAILABLE", 0), 0u) << code;
}

TEST_F(TlsServerTest, LogSaysTlsIsOnWithoutKeyMaterial) {
  const std::string log = server().log();
  EXPECT_NE(log.find("gRPC transport: TLS (certificate " + certificates().server_cert()),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("client certificates not requested"), std::string::npos) << log;
  EXPECT_NE(log.find("metrics on https://"), std::string::npos) << log;
  EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos) << "key material in the log";
  EXPECT_EQ(log.find(key_body(certificates().server_key())), std::string::npos);
}

TEST_F(TlsServerTest, MetricsAreServedOverHttpsOnly) {
  const std::string port = std::to_string(server().metrics_port());
  const CommandResult https =
      curl({"--cacert", certificates().ca(), "https://localhost:" + port + "/metrics"});
  ASSERT_EQ(https.exit_code, 0) << https.output;
  EXPECT_NE(https.output.find("# TYPE infini_"), std::string::npos) << https.output.substr(0, 500);
  const CommandResult healthz =
      curl({"--cacert", certificates().ca(), "https://localhost:" + port + "/healthz"});
  EXPECT_EQ(healthz.exit_code, 0) << healthz.output;

  const CommandResult plain = curl({"http://127.0.0.1:" + port + "/metrics"});
  EXPECT_NE(plain.exit_code, 0) << "plain http to the https port answered:\n" << plain.output;
  EXPECT_EQ(plain.output.find("# TYPE infini_"), std::string::npos);
  const CommandResult untrusted =
      curl({"--cacert", certificates().other_ca(), "https://localhost:" + port + "/metrics"});
  EXPECT_NE(untrusted.exit_code, 0) << "a client not trusting the CA got through";
  // The server is still serving after those failed handshakes.
  EXPECT_EQ(
      curl({"--cacert", certificates().ca(), "https://localhost:" + port + "/metrics"}).exit_code,
      0);
}

TEST_F(TlsServerTest, CliHealthWorksOverTls) {
  const CommandResult ok =
      run_command({bin_path("infini-client"), "--server", localhost_target(server()), "--tls-ca",
                   certificates().ca(), "--timeout", "20", "health"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("SERVING"), std::string::npos) << ok.output;
  const CommandResult plain = run_command(
      {bin_path("infini-client"), "--server", server().target(), "--timeout", "20", "health"});
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  const CommandResult missing_ca =
      run_command({bin_path("infini-client"), "--server", localhost_target(server()), "--tls-ca",
                   certificates().missing(), "health"});
  EXPECT_EQ(missing_ca.exit_code, 1) << missing_ca.output;
  EXPECT_NE(missing_ca.output.find(certificates().missing()), std::string::npos)
      << missing_ca.output;
}

// The image's HEALTHCHECK: `infini-client --server 127.0.0.1:PORT health`,
// TLS set through the container's environment.
TEST_F(TlsServerTest, CliHealthTakesTlsFromTheEnvironment) {
  const CommandResult ok = run_command(
      {"/usr/bin/env", "INFINI_TLS_CA=" + certificates().ca(), "INFINI_TLS_SERVER_NAME=localhost",
       bin_path("infini-client"), "--server", server().target(), "--timeout", "20", "health"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  // The server's own INFINI_TLS_CERT / _KEY (same container) are not the client's.
  const CommandResult with_server_env =
      run_command({"/usr/bin/env", "INFINI_TLS_CA=" + certificates().ca(),
                   "INFINI_TLS_CERT=" + certificates().server_cert(),
                   "INFINI_TLS_KEY=" + certificates().garbage(), bin_path("infini-client"),
                   "--server", localhost_target(server()), "--timeout", "20", "health"});
  EXPECT_EQ(with_server_env.exit_code, 0) << with_server_env.output;
  const CommandResult wrong_name =
      run_command({"/usr/bin/env", "INFINI_TLS_CA=" + certificates().ca(),
                   "INFINI_TLS_SERVER_NAME=elsewhere.example", bin_path("infini-client"),
                   "--server", server().target(), "--timeout", "20", "health"});
  EXPECT_EQ(wrong_name.exit_code, 1) << wrong_name.output;
}

class MutualTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      auto flags = tls_server_flags();
      flags.insert(flags.end(), {"--tls-client-ca", certificates().ca()});
      server_ = ServerProcess::start(flags).release();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << start_error_; }
  static ServerProcess& server() { return *server_; }

  static ClientOptions with_certificate(const std::string& cert, const std::string& key) {
    ClientOptions options = trusting(certificates().ca());
    options.tls_cert_file = cert;
    options.tls_key_file = key;
    return options;
  }

 private:
  static inline ServerProcess* server_ = nullptr;
  static inline std::string start_error_;
};

TEST_F(MutualTlsTest, ClientWithACertificateFromTheCaIsServed) {
  InfiniClient client(localhost_target(server()),
                      with_certificate(certificates().client_cert(), certificates().client_key()));
  const v1::Session session = client.create_session();
  EXPECT_FALSE(session.id().empty());
  EXPECT_EQ(client.get_session(session.id()).id(), session.id());
  EXPECT_NE(server().log().find("client certificates required, signed by " + certificates().ca()),
            std::string::npos);
}

TEST_F(MutualTlsTest, ClientWithoutACertificateFails) {
  const std::string code = health_code(localhost_target(server()), trusting(certificates().ca()));
  EXPECT_EQ(code.rfind("UNAVAILABLE", 0), 0u) << code;
}

TEST_F(MutualTlsTest, ClientWithACertificateFromAnotherCaFails) {
  const std::string code = health_code(
      localhost_target(server()),
      with_certificate(certificates().other_client_cert(), certificates().other_client_key()));
  EXPECT_EQ(code.rfind("UNAVAILABLE", 0), 0u) << code;
}

TEST_F(MutualTlsTest, CliHealthPresentsItsCertificate) {
  const std::string client = bin_path("infini-client");
  const CommandResult ok =
      run_command({client, "--server", localhost_target(server()), "--tls-ca", certificates().ca(),
                   "--tls-cert", certificates().client_cert(), "--tls-key",
                   certificates().client_key(), "--timeout", "20", "health"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  const CommandResult without =
      run_command({client, "--server", localhost_target(server()), "--tls-ca", certificates().ca(),
                   "--timeout", "20", "health"});
  EXPECT_EQ(without.exit_code, 1) << without.output;
  const CommandResult half =
      run_command({client, "--server", localhost_target(server()), "--tls-ca", certificates().ca(),
                   "--tls-cert", certificates().client_cert(), "health"});
  EXPECT_EQ(half.exit_code, 2) << half.output;
  EXPECT_NE(half.output.find("--tls-key"), std::string::npos) << half.output;
}

// ---- refusing to start ----

struct BadStart {
  std::vector<std::string> flags;
  int exit_code;
  std::vector<std::string> says;  // every one of these is in the output
};

CommandResult start_server(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {server_binary(), "--model",     test_model_dir(),
                                   "--listen",      "127.0.0.1:0", "--metrics-listen",
                                   "127.0.0.1:0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  // A server that does start would run until killed: the timeout ends it.
  return run_command(argv, 60s);
}

TEST(TlsStartTest, BadFlagsAndFilesStopTheServerNamingThem) {
  const auto& pki = certificates();
  const std::vector<BadStart> cases = {
      // Flags that need each other: a usage error, like every bad flag.
      {{"--tls-cert", pki.server_cert()}, 2, {"--tls-cert needs --tls-key"}},
      {{"--tls-key", pki.server_key()}, 2, {"--tls-key needs --tls-cert"}},
      {{"--tls-client-ca", pki.ca()}, 2, {"--tls-client-ca needs --tls-cert"}},
      {{"--metrics-tls-cert", pki.server_cert()},
       2,
       {"--metrics-tls-cert needs --metrics-tls-key"}},
      // Files: the server exits 1 before listening.
      {{"--tls-cert", pki.missing(), "--tls-key", pki.server_key()},
       1,
       {"--tls-cert '" + pki.missing() + "'", "No such file"}},
      {{"--tls-cert", pki.server_cert(), "--tls-key", pki.missing()},
       1,
       {"--tls-key '" + pki.missing() + "'", "No such file"}},
      {{"--tls-cert", pki.garbage(), "--tls-key", pki.server_key()},
       1,
       {"--tls-cert '" + pki.garbage() + "'", "no PEM certificate"}},
      {{"--tls-cert", pki.server_cert(), "--tls-key", pki.garbage()},
       1,
       {"--tls-key '" + pki.garbage() + "'", "not an unencrypted PEM private key"}},
      {{"--tls-cert", pki.server_cert(), "--tls-key", pki.server_cert()},
       1,
       {"--tls-key '" + pki.server_cert() + "'", "not an unencrypted PEM private key"}},
      {{"--tls-cert", pki.server_cert(), "--tls-key", pki.stray_key()},
       1,
       {"--tls-key '" + pki.stray_key() + "'", "does not belong to the certificate",
        "--tls-cert '" + pki.server_cert() + "'"}},
      {{"--tls-cert", pki.server_cert(), "--tls-key", pki.server_key(), "--tls-client-ca",
        pki.garbage()},
       1,
       {"--tls-client-ca '" + pki.garbage() + "'", "no PEM certificate"}},
      {{"--tls-cert", pki.server_cert(), "--tls-key", pki.server_key(), "--tls-client-ca",
        pki.missing()},
       1,
       {"--tls-client-ca '" + pki.missing() + "'"}},
      {{"--metrics-tls-cert", pki.server_cert(), "--metrics-tls-key", pki.stray_key()},
       1,
       {"--metrics-tls-key '" + pki.stray_key() + "'", "does not belong"}},
      {{"--metrics-tls-cert", pki.missing(), "--metrics-tls-key", pki.server_key()},
       1,
       {"--metrics-tls-cert '" + pki.missing() + "'"}},
  };
  for (const auto& c : cases) {
    std::string flags;
    for (const auto& f : c.flags) flags += f + " ";
    SCOPED_TRACE(flags);
    const CommandResult r = start_server(c.flags);
    EXPECT_FALSE(r.timed_out) << "the server started";
    EXPECT_EQ(r.exit_code, c.exit_code) << r.output;
    for (const auto& s : c.says)
      EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
    EXPECT_EQ(r.output.find("listening on"), std::string::npos) << "it listened first:\n"
                                                                << r.output;
    for (const auto& key : {pki.server_key(), pki.stray_key()}) {
      EXPECT_EQ(r.output.find(key_body(key)), std::string::npos) << "key material:\n" << r.output;
    }
  }
}

}  // namespace
}  // namespace infini::e2e
