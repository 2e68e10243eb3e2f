// TLS for the server's two listeners: the certificate and key files read and
// checked once at start (a bad file stops the server before it listens, with
// the flag and the file named), then turned into gRPC server credentials or
// installed into civetweb's OpenSSL context for /metrics.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

namespace infini::server {

// A file given by a flag; the flag is named in every error about the file.
struct TlsFile {
  std::string flag;  // "--tls-cert"
  std::string path;  // "" = not given
};

// A server's certificate chain (leaf first) and its private key, PEM text.
// Never logged: the key is secret.
struct TlsIdentity {
  std::string certificate_chain;
  std::string private_key;
  std::string certificate_path;  // for the start log
  std::string subject;           // the leaf's subject, for the start log
};

// Reads and checks both files: readable, PEM, an unencrypted private key,
// and the key belonging to the leaf certificate. Throws std::runtime_error
// naming the flag and the file.
TlsIdentity load_tls_identity(const TlsFile& certificate, const TlsFile& key);

// Reads PEM certificates to trust (a CA bundle); throws when the file holds none.
std::string load_trusted_certificates(const TlsFile& certificates);

struct GrpcTlsFiles {
  TlsFile certificate{"--tls-cert", ""};
  TlsFile key{"--tls-key", ""};
  TlsFile client_ca{"--tls-client-ca", ""};  // set: clients must present a certificate it signed
};

struct GrpcServerCredentials {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::string description;  // what the start log says: "plaintext" or the TLS setup
};

// Insecure credentials when no certificate is given; TLS otherwise, requiring
// and verifying client certificates when client_ca is set.
GrpcServerCredentials make_grpc_server_credentials(const GrpcTlsFiles& files);

// Puts `identity` into an OpenSSL SSL_CTX (passed as void*, as civetweb's
// init_ssl callback hands it over). Returns "" or the reason it failed.
std::string install_tls_identity(void* ssl_ctx, const TlsIdentity& identity);

}  // namespace infini::server
