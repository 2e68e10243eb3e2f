// ExportSession and ImportSession move a session's snapshot as a stream of
// SnapshotChunk messages of at most this many bytes, whatever the model: the
// server exports in such chunks and refuses a larger one on import, and the
// client sends in them. One definition for both ends of the API.
#pragma once

#include <cstddef>

namespace infini::v1 {

inline constexpr size_t kSnapshotChunkBytes = size_t{1} << 20;

}  // namespace infini::v1
