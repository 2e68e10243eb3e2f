// Certificates for TLS tests, made at test time with the openssl CLI in a
// temp dir (removed with the object): a CA, a server certificate for
// localhost / 127.0.0.1 (subjectAltName), a client certificate from the same
// CA, a client certificate from another CA, a key that belongs to none of
// them, and a file that is not PEM. EC P-256 keys: quick to make.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/e2e/server_process.h"

namespace infini::e2e {

class TestCertificates {
 public:
  TestCertificates() : dir_("infini-e2e-pki") {
    make_ca("ca", "infini test CA");
    make_ca("other_ca", "another CA");
    make_leaf("server", "localhost", "ca",
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
              "basicConstraints=CA:FALSE\n");
    make_leaf("client", "infini test client", "ca",
              "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
    make_leaf("other_client", "client of another CA", "other_ca",
              "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             path("stray.key")});
    std::ofstream(path("garbage.pem")) << "this is not a certificate\n";
  }

  std::string ca() const { return path("ca.pem"); }
  std::string server_cert() const { return path("server.pem"); }
  std::string server_key() const { return path("server.key"); }
  std::string client_cert() const { return path("client.pem"); }
  std::string client_key() const { return path("client.key"); }
  std::string other_ca() const { return path("other_ca.pem"); }
  std::string other_client_cert() const { return path("other_client.pem"); }
  std::string other_client_key() const { return path("other_client.key"); }
  std::string stray_key() const { return path("stray.key"); }  // matches no certificate
  std::string garbage() const { return path("garbage.pem"); }  // not PEM at all
  std::string missing() const { return path("no-such-file.pem"); }

  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

 private:
  void openssl(std::vector<std::string> args) const {
    args.insert(args.begin(), "/usr/bin/openssl");
    const CommandResult r = run_command(args, 60s);
    if (r.exit_code != 0) {
      std::string line;
      for (const auto& a : args) line += a + " ";
      throw std::runtime_error("test certificates: " + line + "failed:\n" + r.output);
    }
  }

  void make_ca(const std::string& name, const std::string& common_name) const {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days", "2", "-subj",
             "/CN=" + common_name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"});
  }

  void make_leaf(const std::string& name, const std::string& common_name, const std::string& ca,
                 const std::string& extensions) const {
    openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj",
             "/CN=" + common_name});
    std::ofstream(path(name + ".ext")) << extensions;
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey",
             path(ca + ".key"), "-CAcreateserial", "-CAserial", path(ca + ".srl"), "-out",
             path(name + ".pem"), "-days", "2", "-extfile", path(name + ".ext")});
  }

  TempDir dir_;
};

}  // namespace infini::e2e
