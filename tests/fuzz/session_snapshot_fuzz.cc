// Bytes -> server::decode_snapshot, as the server reads a snapshot file at
// start. Any input must give a SessionSnapshot or a SnapshotError: never a
// crash, an overflow or a huge allocation (ASan's allocation limit catches
// lengths trusted before they are checked). A snapshot that decodes must be
// in canonical form: encoding it again gives the same bytes (for an older
// version, the upgraded bytes read back the same), so nothing the reader
// accepts is lost or changed on the next write.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "server/sessions/session_snapshot.h"
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
  const std::string encoded = infini::server::encode_snapshot(snapshot, kIdentity);
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof version);  // decoded: the header is there
  if (version == infini::server::kSnapshotVersion) {
    infini::fuzz::check(encoded == bytes, "a decoded snapshot encodes to different bytes");
  } else {
    // An older version is upgraded on the next write: that write must read
    // back to the same snapshot, and older versions carry no tenant.
    infini::fuzz::check(snapshot.tenant.empty(), "an older snapshot decoded with a tenant");
    infini::fuzz::check(
        infini::server::encode_snapshot(infini::server::decode_snapshot(encoded, kIdentity),
                                        kIdentity) == encoded,
        "an upgraded snapshot does not read back the same");
  }
  return 0;
}
