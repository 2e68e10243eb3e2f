// The bearer tokens the server accepts and the tenant each one names, read
// from a file that operators edit and the server reloads (SIGHUP, or when
// its mtime changes) so that a token can be added or revoked without a
// restart.
//
// File format, one entry per line; blank lines and lines starting with '#'
// are ignored:
//   <tenant> <token> [expires=<RFC 3339 UTC time, e.g. 2027-01-01T00:00:00Z>]
// tenant: [A-Za-z0-9._-]+. token: at least 16 printable ASCII characters, or
// sha256:<64 hex digits> (the SHA-256 of the token, so that the file need not
// hold it in plain text). One tenant may have several tokens (rotation); a
// token may appear only once.
//
// Only SHA-256 digests are kept in memory, and a presented token is compared
// with every entry in constant time. Errors name file:line and never the
// token.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace infini::server {

using TokenDigest = std::array<uint8_t, 32>;

TokenDigest sha256_of(std::string_view bytes);

struct TokenEntry {
  std::string tenant;
  TokenDigest digest{};
  // None: never expires.
  std::optional<std::chrono::system_clock::time_point> expires;
  int line = 0;
};

class TokenFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a token file's text; `path` only names the file in errors
// ("PATH:LINE: what is wrong"). Throws TokenFileError.
std::vector<TokenEntry> parse_token_file(std::string_view text, const std::string& path);

// "2027-01-01T00:00:00Z" -> a time point; nullopt when not that form or not
// a real date.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339_utc(std::string_view text);

class TokenStore {
 public:
  // Loads `path`; throws TokenFileError when it cannot be read or parsed.
  explicit TokenStore(std::filesystem::path path);

  enum class Outcome { kValid, kUnknown, kExpired };
  struct Lookup {
    Outcome outcome = Outcome::kUnknown;
    std::string tenant;  // set when kValid
  };
  // Safe from any thread.
  Lookup lookup(std::string_view token,
                std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  // Reads the file again. On failure the previous table stays in force and
  // the reason is returned (and logged); nullopt on success.
  std::optional<std::string> reload();
  // reload() if the file's mtime, size or inode changed since the last load.
  // Returns true when it reloaded successfully.
  bool reload_if_changed();

  size_t size() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  struct FileStamp {
    int64_t mtime_ns = 0, size = 0;
    uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };
  // Reads and parses the file: the entries and the stamp of what was read.
  std::pair<std::vector<TokenEntry>, FileStamp> load() const;

  const std::filesystem::path path_;
  mutable std::mutex mutex_;  // guards table_ and stamp_
  std::shared_ptr<const std::vector<TokenEntry>> table_;
  FileStamp stamp_;
};

}  // namespace infini::server
