#include "server/security/tls_credentials.h"

#include <grpcpp/security/server_credentials.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace infini::server {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

std::string where(const TlsFile& file) { return file.flag + " '" + file.path + "'"; }

// OpenSSL's queued reasons, oldest first, and the queue emptied.
std::string openssl_reason() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

std::string read_file(const TlsFile& file) {
  if (std::filesystem::is_directory(file.path)) {
    throw std::runtime_error(where(file) + ": is a directory, expected a PEM file");
  }
  std::ifstream in(file.path, std::ios::binary);
  if (!in) throw std::runtime_error(where(file) + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(where(file) + ": cannot read: " + std::strerror(errno));
  return text.str();
}

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Every certificate in `pem`, in order; empty when it holds none.
std::vector<X509Ptr> parse_certificates(const std::string& pem) {
  std::vector<X509Ptr> certificates;
  BioPtr bio = memory_bio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(x);
  }
  ERR_clear_error();  // the read past the last one always fails
  return certificates;
}

// An encrypted key would make OpenSSL prompt on the terminal; refuse instead.
int no_passphrase(char*, int, int, void*) { return 0; }

KeyPtr parse_private_key(const std::string& pem) {
  BioPtr bio = memory_bio(pem);
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
}

std::string subject_of(X509* certificate) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(certificate), buf, sizeof buf);
  return buf;
}

}  // namespace

TlsIdentity load_tls_identity(const TlsFile& certificate, const TlsFile& key) {
  TlsIdentity identity;
  identity.certificate_chain = read_file(certificate);
  identity.certificate_path = certificate.path;
  const auto chain = parse_certificates(identity.certificate_chain);
  if (chain.empty()) {
    throw std::runtime_error(where(certificate) +
                             ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  }
  identity.subject = subject_of(chain.front().get());
  identity.private_key = read_file(key);
  const KeyPtr private_key = parse_private_key(identity.private_key);
  if (!private_key) {
    const std::string reason = openssl_reason();
    throw std::runtime_error(where(key) +
                             ": not an unencrypted PEM private key (expected -----BEGIN PRIVATE "
                             "KEY----- or -----BEGIN RSA/EC PRIVATE KEY-----)" +
                             (reason.empty() ? "" : ": " + reason));
  }
  if (X509_check_private_key(chain.front().get(), private_key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error(where(key) + ": the key does not belong to the certificate in " +
                             where(certificate) + " (" + identity.subject + ")");
  }
  return identity;
}

std::string load_trusted_certificates(const TlsFile& certificates) {
  std::string pem = read_file(certificates);
  if (parse_certificates(pem).empty()) {
    throw std::runtime_error(where(certificates) +
                             ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  }
  return pem;
}

GrpcServerCredentials make_grpc_server_credentials(const GrpcTlsFiles& files) {
  if (files.certificate.path.empty()) {
    return {grpc::InsecureServerCredentials(), "plaintext (no " + files.certificate.flag + ")"};
  }
  const TlsIdentity identity = load_tls_identity(files.certificate, files.key);
  std::string client_ca;
  if (!files.client_ca.path.empty()) client_ca = load_trusted_certificates(files.client_ca);

  grpc::SslServerCredentialsOptions options(
      client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                        : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = client_ca;
  options.pem_key_cert_pairs.push_back({identity.private_key, identity.certificate_chain});
  std::string description = "TLS (certificate " + identity.certificate_path + ", " +
                            identity.subject + "); client certificates ";
  description +=
      client_ca.empty() ? "not requested" : "required, signed by " + files.client_ca.path;
  return {grpc::SslServerCredentials(options), description};
}

std::string install_tls_identity(void* ssl_ctx, const TlsIdentity& identity) {
  SSL_CTX* context = static_cast<SSL_CTX*>(ssl_ctx);
  auto chain = parse_certificates(identity.certificate_chain);
  const KeyPtr key = parse_private_key(identity.private_key);
  if (chain.empty() || !key) return "certificate or key no longer parses";
  if (SSL_CTX_use_certificate(context, chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(context, key.get()) != 1 || SSL_CTX_check_private_key(context) != 1) {
    return "OpenSSL refused the certificate or key: " + openssl_reason();
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    // add_extra_chain_cert takes ownership on success.
    if (SSL_CTX_add_extra_chain_cert(context, chain[i].get()) != 1) {
      return "OpenSSL refused an intermediate certificate: " + openssl_reason();
    }
    (void)chain[i].release();
  }
  return "";
}

}  // namespace infini::server
