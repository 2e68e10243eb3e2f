// Bytes -> server::decode_snapshot, as the server reads a snapshot file at
// start. Any input must give a SessionSnapshot or a SnapshotError: never a
// crash, an overflow or a huge allocation (ASan's allocation limit catches
// lengths trusted before they are checked). A snapshot that decodes must be
// in canonical form: encoding it again gives the same bytes, so nothing the
// reader accepts is lost or changed on the next write.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/session_snapshot.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// The seeds (tests/fuzz/make-corpus) are written for this identity.
constexpr const char* kIdentity = "fnv1a64:0123456789abcdef";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  infini::server::SessionSnapshot snapshot;
  try {
    snapshot = infini::server::decode_snapshot(bytes, kIdentity);
  } catch (const infini::server::SnapshotError&) {
    return 0;
  }
  infini::fuzz::check(infini::server::encode_snapshot(snapshot, kIdentity) == bytes,
                      "a decoded snapshot encodes to different bytes");
  return 0;
}
