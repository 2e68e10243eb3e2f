// server/security/tls_credentials.h and MetricsHttpServer over https, in process:
// every bad file gets an error naming the flag and the file, and a good
// identity serves /metrics to a client that trusts the CA (curl).
#include "server/security/tls_credentials.h"

#include <gtest/gtest.h>

#include "server/metrics/civetweb_openssl.h"
#include "server/metrics/metrics_http.h"
#include "tests/e2e/test_certificates.h"

namespace infini::server {
namespace {

using e2e::CommandResult;
using e2e::TestCertificates;

const TestCertificates& pki() {
  static const TestCertificates* certificates = new TestCertificates();
  return *certificates;
}

std::string load_error(const std::string& cert, const std::string& key) {
  try {
    load_tls_identity({"--tls-cert", cert}, {"--tls-key", key});
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "loaded";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(TlsCredentialsTest, LoadsAMatchingCertificateAndKey) {
  const TlsIdentity identity =
      load_tls_identity({"--tls-cert", pki().server_cert()}, {"--tls-key", pki().server_key()});
  EXPECT_EQ(identity.subject, "/CN=localhost");
  EXPECT_EQ(identity.certificate_path, pki().server_cert());
  EXPECT_TRUE(contains(identity.certificate_chain, "BEGIN CERTIFICATE"));
  EXPECT_TRUE(contains(identity.private_key, "PRIVATE KEY"));
}

TEST(TlsCredentialsTest, BadFilesAreNamedWithTheirFlag) {
  const std::string missing = load_error(pki().missing(), pki().server_key());
  EXPECT_TRUE(contains(missing, "--tls-cert '" + pki().missing() + "': cannot read")) << missing;
  const std::string dir = load_error("/tmp", pki().server_key());
  EXPECT_TRUE(contains(dir, "--tls-cert '/tmp': is a directory")) << dir;
  const std::string garbage_cert = load_error(pki().garbage(), pki().server_key());
  EXPECT_TRUE(contains(garbage_cert, "--tls-cert '" + pki().garbage() + "': no PEM certificate"))
      << garbage_cert;
  const std::string garbage_key = load_error(pki().server_cert(), pki().garbage());
  EXPECT_TRUE(contains(garbage_key, "--tls-key '" + pki().garbage() + "': not an unencrypted"))
      << garbage_key;
  const std::string stray = load_error(pki().server_cert(), pki().stray_key());
  EXPECT_TRUE(contains(stray, "--tls-key '" + pki().stray_key() +
                                  "': the key does not belong to the certificate in --tls-cert '" +
                                  pki().server_cert() + "'"))
      << stray;
  EXPECT_FALSE(contains(stray, "PRIVATE KEY-----\n")) << "key material in the message";
}

TEST(TlsCredentialsTest, EncryptedKeyIsRefusedWithoutPrompting) {
  const std::string encrypted = pki().path("encrypted.key");
  const CommandResult r =
      e2e::run_command({"/usr/bin/openssl", "pkey", "-in", pki().server_key(), "-aes256",
                        "-passout", "pass:secret", "-out", encrypted});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string error = load_error(pki().server_cert(), encrypted);
  EXPECT_TRUE(contains(error, "not an unencrypted PEM private key")) << error;
}

TEST(TlsCredentialsTest, TrustedCertificatesMustHoldACertificate) {
  EXPECT_TRUE(
      contains(load_trusted_certificates({"--tls-client-ca", pki().ca()}), "BEGIN CERTIFICATE"));
  try {
    load_trusted_certificates({"--tls-client-ca", pki().server_key()});
    ADD_FAILURE() << "a key file was taken for CA certificates";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "--tls-client-ca '" + pki().server_key() + "'")) << e.what();
  }
}

TEST(TlsCredentialsTest, GrpcCredentialsDescribeTheSetup) {
  EXPECT_EQ(make_grpc_server_credentials({}).description, "plaintext (no --tls-cert)");
  GrpcTlsFiles files;
  files.certificate.path = pki().server_cert();
  files.key.path = pki().server_key();
  const auto tls = make_grpc_server_credentials(files);
  ASSERT_NE(tls.credentials, nullptr);
  EXPECT_TRUE(contains(tls.description, "TLS (certificate " + pki().server_cert()));
  EXPECT_TRUE(contains(tls.description, "client certificates not requested"));
  files.client_ca.path = pki().ca();
  EXPECT_TRUE(contains(make_grpc_server_credentials(files).description,
                       "client certificates required, signed by " + pki().ca()));
}

TEST(MetricsHttpsTest, ServesMetricsToAClientTrustingTheCa) {
  const TlsIdentity identity = load_tls_identity({"--metrics-tls-cert", pki().server_cert()},
                                                 {"--metrics-tls-key", pki().server_key()});
  MetricsHttpServer server(
      "127.0.0.1:0", [] { return std::string("infini_up 1\n"); }, &identity);
  const std::string port = std::to_string(server.port());
  const auto curl = [](std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/curl", "-sS", "--fail", "--max-time", "20"});
    return e2e::run_command(args);
  };
  // Several requests: civetweb's TLS path must survive each (OpenSSL 3, see
  // server/metrics/civetweb_openssl.h), and a failed handshake must not stop it.
  for (int i = 0; i < 3; ++i) {
    const CommandResult ok =
        curl({"--cacert", pki().ca(), "https://localhost:" + port + "/metrics"});
    ASSERT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_EQ(ok.output, "infini_up 1\n");
    EXPECT_NE(curl({"http://127.0.0.1:" + port + "/metrics"}).exit_code, 0);
    EXPECT_NE(
        curl({"--cacert", pki().other_ca(), "https://localhost:" + port + "/metrics"}).exit_code,
        0);
  }
}

TEST(MetricsHttpsTest, LibrariesForCivetwebAreNextToTheBinaries) {
  EXPECT_NO_THROW(load_civetweb_openssl()) << civetweb_openssl_dir();
}

}  // namespace
}  // namespace infini::server
