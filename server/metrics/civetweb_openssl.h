// Makes Debian 12's civetweb 1.15 usable for https with OpenSSL 3.
//
// civetweb loads OpenSSL itself with dlopen("libssl.so") and
// dlopen("libcrypto.so"): names that exist only with libssl-dev installed, and
// whose libssl lacks SSL_get_peer_certificate (a macro since OpenSSL 3), which
// civetweb then calls as a null pointer on every https connection
// (civetweb/civetweb#1334). The two libraries built from
// server/metrics/civetweb_openssl/ carry the sonames "libssl.so" and "libcrypto.so",
// depend on the real libssl.so.3 / libcrypto.so.3 and supply the missing
// function. Loaded here by path before civetweb starts, they are what
// civetweb's dlopen returns (the dynamic loader matches an already loaded
// object by soname before searching any directory).
#pragma once

#include <string>

namespace infini::server {

// The directory the libraries are looked for in: ../lib/infini next to the
// running executable (<build>/lib/infini, /usr/local/lib/infini in the image).
std::string civetweb_openssl_dir();

// Loads both libraries once per process; later calls do nothing. Throws
// std::runtime_error naming the file and the loader's reason when one cannot
// be loaded.
void load_civetweb_openssl();

}  // namespace infini::server
