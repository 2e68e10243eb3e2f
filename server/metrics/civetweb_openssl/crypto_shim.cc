// Loaded as "libcrypto.so" by civetweb (see server/metrics/civetweb_openssl.h): nothing
// of its own, only OpenSSL 3's libcrypto as a dependency, so that the runtime
// image needs no libssl-dev for the unversioned libcrypto.so name.
extern "C" __attribute__((visibility("default"))) int infini_civetweb_crypto_shim = 1;
