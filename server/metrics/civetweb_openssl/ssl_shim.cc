// Loaded as "libssl.so" by civetweb (see server/metrics/civetweb_openssl.h): OpenSSL 3's
// libssl, plus the one function Debian's civetweb 1.15 looks up that OpenSSL 3
// no longer exports. Without it civetweb calls a null pointer on every https
// connection (civetweb/civetweb#1334).
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

extern "C" __attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  // The 1.x function returned a new reference, as get1 does: civetweb frees it.
  return SSL_get1_peer_certificate(ssl);
}
