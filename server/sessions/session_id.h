// What a session id may be. The server issues 32 hex digits; an id from
// outside (a request, an imported snapshot, a file name in the snapshot
// directory) is only ever used when it passes this check, so an id can be
// put in a log line, an error message or a path as it is.
#pragma once

#include <cstddef>
#include <string_view>

namespace infini::server {

inline constexpr size_t kMaxSessionIdBytes = 128;

// 1..kMaxSessionIdBytes characters of [A-Za-z0-9_-].
bool is_valid_session_id(std::string_view id);

}  // namespace infini::server
