// A session's durable form: everything needed to continue it exactly as it
// was (memory, position, the tokens and text still waiting for a segment or
// a word boundary, the UTF-8 validator's open sequence, labels, times), tied
// to the model that computed it and sealed with a checksum.
//
// Layout (little-endian), format version 2 (version 1, without the tenant,
// is still read: its sessions belong to tenant ""):
//   "INFINISS"      8 bytes magic
//   u32 version     kSnapshotVersion; a larger one is refused, never guessed at
//   u32 reserved    0 (anything else is refused as corrupt)
//   u64 body_bytes  length of the body that follows
//   body            the fields of SessionSnapshot (see session_snapshot.cc);
//                   nothing may follow the last one
//   u64 checksum    FNV-1a 64 of every byte before it
// A reader checks, in order: length, magic, version, size, checksum, model
// identity, then every field's bounds; each failure is a SnapshotError whose
// kind and message say which.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace infini::server {

inline constexpr uint32_t kSnapshotVersion = 2;

struct SessionSnapshot {
  std::string id;
  std::string tenant;  // the owner; "" when auth is off (and in version 1)
  std::map<std::string, std::string> labels;
  int64_t created_at_ns = 0;  // since the Unix epoch
  int64_t last_used_ns = 0;
  // The engine state: SessionState's tensors in to_host() order without its
  // two trailing counters, which are exact integers here.
  int64_t tokens = 0;    // folded into the state (whole segments)
  int64_t segments = 0;
  std::vector<float> state;
  // Waiting for the next segment / word boundary.
  std::vector<int32_t> pending_ids;
  std::string pending_text;
  uint8_t pending_start = 0;  // StreamingEncoder::PendingStart
  // Utf8Validator's open sequence.
  uint32_t utf8_needed = 0, utf8_lower = 0x80, utf8_upper = 0xBF;
  int64_t utf8_offset = 0;
};

class SnapshotError : public std::runtime_error {
 public:
  enum class Kind { kTruncated, kNotASnapshot, kFutureVersion, kCorrupt, kOtherModel };
  SnapshotError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// `model_identity` names the weights the state was computed with (see
// model_identity()); decode refuses a snapshot of another model.
std::string encode_snapshot(const SessionSnapshot& snapshot, const std::string& model_identity);
SessionSnapshot decode_snapshot(std::string_view bytes, const std::string& model_identity);

// A model's identity for snapshots: FNV-1a 64 (hex) of config.json and
// model.safetensors in `model_dir`, read once at start (about a second per GB).
std::string model_identity(const std::string& model_dir);

// FNV-1a 64 of `bytes`, continuing from `hash`.
uint64_t fnv1a64(std::string_view bytes, uint64_t hash = 0xcbf29ce484222325ULL);

}  // namespace infini::server
