#include "server/sessions/session_snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "engine/checkpoint_tensors.h"

namespace infini::server {
namespace {

// The frame and every field are written as the host lays them out; a
// big-endian host would need byte swaps here, and none is supported.
static_assert(std::endian::native == std::endian::little, "snapshots are little-endian");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);

constexpr std::string_view kMagic = "INFINISS";
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8;  // magic, version, reserved, body_bytes
constexpr size_t kChecksumBytes = 8;
constexpr size_t kFrameBytes = kHeaderBytes + kChecksumBytes;

// Body field order (format version 2). Every variable-length field carries
// its length first, so a reader can check the length against the bytes left
// before it allocates anything.
//   model identity   u32 length + bytes
//   id               u32 length + bytes
//   tenant           u32 length + bytes ("" or [A-Za-z0-9._-]); absent in version 1
//   labels           u32 count, then per label key and value (u32 length + bytes each)
//   created_at_ns, last_used_ns, tokens, segments    i64 each
//   state            u64 count + that many f32
//   pending_ids      u64 count + that many i32
//   pending_text     u64 length + bytes
//   pending_start    u8 (0..2, StreamingEncoder::PendingStart)
//   utf8_needed, utf8_lower, utf8_upper              u32 each
//   utf8_offset      i64
// Nothing may follow the last field.

template <typename T>
void put(std::string& out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  out.append(raw, sizeof(T));
}

void put_string32(std::string& out, std::string_view bytes, const char* field) {
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument(std::string("snapshot field ") + field + " is longer than 4 GiB");
  }
  put<uint32_t>(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

// A u64 count, then the elements as they lie in memory.
template <typename T>
void put_array(std::string& out, const std::vector<T>& values) {
  put<uint64_t>(out, values.size());
  if (!values.empty()) {  // data() of an empty vector may be null
    out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
}

template <typename T>
T load(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

[[noreturn]] void corrupt(const std::string& message) {
  throw SnapshotError(SnapshotError::Kind::kCorrupt, message);
}

// Reads the body front to back; every read names its field when it would
// run past the end.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}

  size_t remaining() const { return body_.size() - at_; }

  template <typename T>
  T get(const char* field) {
    return load<T>(take(sizeof(T), field).data());
  }

  std::string_view take(size_t n, const char* field) {
    if (n > remaining()) {
      corrupt(std::string("field ") + field + " runs past the end of the body (" +
              std::to_string(n) + " bytes wanted, " + std::to_string(remaining()) + " left)");
    }
    std::string_view out = body_.substr(at_, n);
    at_ += n;
    return out;
  }

  std::string_view string32(const char* field) {
    const uint32_t n = get<uint32_t>(field);
    return take(n, field);
  }

  // A count of `element_bytes`-sized elements, checked against the bytes
  // left before anyone allocates for it: a hostile count is an error, never
  // a huge allocation.
  size_t count64(size_t element_bytes, const char* field) {
    const uint64_t n = get<uint64_t>(field);
    if (n > remaining() / element_bytes) {
      corrupt(std::string("field ") + field + " claims " + std::to_string(n) +
              " elements but only " + std::to_string(remaining()) + " bytes are left");
    }
    return static_cast<size_t>(n);
  }

  template <typename T>
  std::vector<T> array(const char* field) {
    const size_t n = count64(sizeof(T), field);
    std::vector<T> out(n);
    if (n > 0) std::memcpy(out.data(), take(n * sizeof(T), field).data(), n * sizeof(T));
    return out;
  }

 private:
  std::string_view body_;
  size_t at_ = 0;
};

// Identities come from a file that may be hostile: printable ASCII only, and
// no longer than a real one (24 characters) plus an ellipsis.
std::string shorten(std::string_view identity) {
  constexpr size_t kMax = 24;
  std::string out;
  for (size_t i = 0; i < identity.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(identity[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (identity.size() > kMax) out += "...";
  return out;
}

void hash_file(const std::string& path, uint64_t& hash) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("cannot read " + path +
                             " for the model identity: " + std::strerror(errno));
  }
  constexpr size_t kBlock = 1 << 20;
  std::unique_ptr<char[]> block(new char[kBlock]);
  for (;;) {
    const ssize_t n = ::read(fd, block.get(), kBlock);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot read " + path +
                               " for the model identity: " + std::strerror(err));
    }
    hash = fnv1a64(std::string_view(block.get(), static_cast<size_t>(n)), hash);
  }
  ::close(fd);
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes, uint64_t hash) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string model_identity(const std::string& model_dir) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  hash_file(model_dir + "/config.json", hash);
  // model.safetensors, or every shard of model.safetensors.index.json in order.
  for (const std::string& weights : CheckpointTensors::open(model_dir)->files()) {
    hash_file(weights, hash);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "fnv1a64:";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(hash >> shift) & 0xf];
  return out;
}

std::string encode_snapshot(const SessionSnapshot& s, const std::string& model_identity) {
  if (s.pending_start > 2) {
    throw std::invalid_argument("snapshot pending_start " + std::to_string(s.pending_start) +
                                " is not a StreamingEncoder::PendingStart");
  }
  if (s.labels.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("snapshot has too many labels");
  }
  std::string out;
  out.reserve(kFrameBytes + 256 + model_identity.size() + s.id.size() +
              s.state.size() * sizeof(float) + s.pending_ids.size() * sizeof(int32_t) +
              s.pending_text.size());
  out.append(kMagic);
  put<uint32_t>(out, kSnapshotVersion);
  put<uint32_t>(out, 0);  // reserved
  put<uint64_t>(out, 0);  // body_bytes, patched below

  put_string32(out, model_identity, "model identity");
  put_string32(out, s.id, "id");
  put_string32(out, s.tenant, "tenant");
  put<uint32_t>(out, static_cast<uint32_t>(s.labels.size()));
  for (const auto& [key, value] : s.labels) {
    put_string32(out, key, "label key");
    put_string32(out, value, "label value");
  }
  put<int64_t>(out, s.created_at_ns);
  put<int64_t>(out, s.last_used_ns);
  put<int64_t>(out, s.tokens);
  put<int64_t>(out, s.segments);
  put_array(out, s.state);
  put_array(out, s.pending_ids);
  put<uint64_t>(out, s.pending_text.size());
  out.append(s.pending_text);
  put<uint8_t>(out, s.pending_start);
  put<uint32_t>(out, s.utf8_needed);
  put<uint32_t>(out, s.utf8_lower);
  put<uint32_t>(out, s.utf8_upper);
  put<int64_t>(out, s.utf8_offset);

  const uint64_t body_bytes = out.size() - kHeaderBytes;
  std::memcpy(out.data() + 16, &body_bytes, sizeof(body_bytes));
  put<uint64_t>(out, fnv1a64(out));
  return out;
}

// Version 0 was never written by anyone: a file with the right magic and
// version 0 is damaged, so it is kCorrupt (not kNotASnapshot, which is for
// files that are not snapshots at all).
SessionSnapshot decode_snapshot(std::string_view bytes, const std::string& model_identity) {
  using Kind = SnapshotError::Kind;
  if (bytes.size() < kFrameBytes) {
    throw SnapshotError(Kind::kTruncated, "snapshot is " + std::to_string(bytes.size()) +
                                              " bytes, shorter than the " +
                                              std::to_string(kFrameBytes) + "-byte frame");
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    throw SnapshotError(Kind::kNotASnapshot, "not a session snapshot (no INFINISS magic)");
  }
  const auto version = load<uint32_t>(bytes.data() + 8);
  if (version > kSnapshotVersion) {
    throw SnapshotError(Kind::kFutureVersion, "snapshot format version " + std::to_string(version) +
                                                  " is newer than this server's version " +
                                                  std::to_string(kSnapshotVersion) +
                                                  "; upgrade the server to read it");
  }
  if (version == 0) corrupt("snapshot format version 0 is not valid");
  const auto body_bytes = load<uint64_t>(bytes.data() + 16);
  const size_t actual_body = bytes.size() - kFrameBytes;
  if (body_bytes > actual_body) {
    throw SnapshotError(Kind::kTruncated, "snapshot is truncated: its header announces a " +
                                              std::to_string(body_bytes) + "-byte body (" +
                                              std::to_string(body_bytes + kFrameBytes) +
                                              " bytes in all), the file has " +
                                              std::to_string(bytes.size()) + " bytes");
  }
  if (body_bytes < actual_body) {
    // Longer than announced: bytes were appended or the size field is damaged.
    corrupt("snapshot has " + std::to_string(actual_body - body_bytes) +
            " bytes more than its header announces (" + std::to_string(body_bytes + kFrameBytes) +
            " expected, " + std::to_string(bytes.size()) + " found)");
  }
  const size_t sealed = bytes.size() - kChecksumBytes;
  if (fnv1a64(bytes.substr(0, sealed)) != load<uint64_t>(bytes.data() + sealed)) {
    corrupt("checksum mismatch: the file is damaged");
  }
  if (load<uint32_t>(bytes.data() + 12) != 0) corrupt("reserved header field is not 0");

  BodyReader in(bytes.substr(kHeaderBytes, actual_body));
  const std::string_view identity = in.string32("model identity");
  if (identity != model_identity) {
    throw SnapshotError(Kind::kOtherModel, "snapshot is of model " + shorten(identity) +
                                               ", this server runs model " +
                                               shorten(model_identity));
  }

  SessionSnapshot s;
  s.id = std::string(in.string32("id"));
  if (version >= 2) {
    // The owner decides who may use the session: only a tenant name the
    // token file could have given.
    s.tenant = std::string(in.string32("tenant"));
    for (const char c : s.tenant) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        corrupt("field tenant holds a character outside A-Z a-z 0-9 . _ -");
      }
    }
  }
  const uint32_t label_count = in.get<uint32_t>("labels");
  if (label_count > in.remaining() / 8) {  // each label takes at least two u32 lengths
    corrupt("field labels claims " + std::to_string(label_count) + " labels but only " +
            std::to_string(in.remaining()) + " bytes are left");
  }
  for (uint32_t i = 0; i < label_count; ++i) {
    std::string key(in.string32("label key"));
    std::string value(in.string32("label value"));
    if (!s.labels.emplace(std::move(key), std::move(value)).second) {
      corrupt("field labels repeats a key");
    }
  }
  s.created_at_ns = in.get<int64_t>("created_at_ns");
  s.last_used_ns = in.get<int64_t>("last_used_ns");
  s.tokens = in.get<int64_t>("tokens");
  s.segments = in.get<int64_t>("segments");
  if (s.tokens < 0) corrupt("field tokens is negative (" + std::to_string(s.tokens) + ")");
  if (s.segments < 0 || s.segments > s.tokens) {
    corrupt("field segments (" + std::to_string(s.segments) + ") is not within 0.." +
            std::to_string(s.tokens) + " tokens");
  }

  s.state = in.array<float>("state");
  s.pending_ids = in.array<int32_t>("pending_ids");
  for (const int32_t id : s.pending_ids) {
    if (id < 0) corrupt("field pending_ids holds a negative token id (" + std::to_string(id) + ")");
  }

  const size_t text = in.count64(1, "pending_text");
  s.pending_text = std::string(in.take(text, "pending_text"));

  s.pending_start = in.get<uint8_t>("pending_start");
  if (s.pending_start > 2) {
    corrupt("field pending_start is " + std::to_string(s.pending_start) + ", not 0..2");
  }
  s.utf8_needed = in.get<uint32_t>("utf8_needed");
  s.utf8_lower = in.get<uint32_t>("utf8_lower");
  s.utf8_upper = in.get<uint32_t>("utf8_upper");
  s.utf8_offset = in.get<int64_t>("utf8_offset");
  // A UTF-8 sequence has at most 3 continuation bytes, each in 0x80..0xBF.
  if (s.utf8_needed > 3 || s.utf8_lower < 0x80 || s.utf8_upper > 0xBF ||
      s.utf8_lower > s.utf8_upper) {
    corrupt("fields utf8_needed/lower/upper do not describe a UTF-8 sequence");
  }
  if (s.utf8_offset < 0) corrupt("field utf8_offset is negative");
  if (in.remaining() != 0) {
    corrupt(std::to_string(in.remaining()) + " unexpected bytes after the last field");
  }
  return s;
}

}  // namespace infini::server
