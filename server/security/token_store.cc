#include "server/security/token_store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace infini::server {

namespace {

using SystemClock = std::chrono::system_clock;

constexpr size_t kMinTokenLength = 16;
constexpr std::string_view kDigestPrefix = "sha256:";
constexpr std::string_view kExpiresPrefix = "expires=";

std::shared_ptr<spdlog::logger> server_logger() {
  auto logger = spdlog::get("server");
  return logger ? logger : spdlog::default_logger();
}

bool valid_tenant(std::string_view tenant) {
  if (tenant.empty()) return false;
  for (char c : tenant) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<TokenDigest> parse_hex_digest(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  TokenDigest digest{};
  for (size_t i = 0; i < digest.size(); ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    digest[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return digest;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

}  // namespace

TokenDigest sha256_of(std::string_view bytes) {
  TokenDigest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest.data());
  return digest;
}

std::optional<SystemClock::time_point> parse_rfc3339_utc(std::string_view text) {
  // Exactly YYYY-MM-DDTHH:MM:SSZ: one form, no offsets, no local time.
  if (text.size() != 20) return std::nullopt;
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  auto number = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  std::tm tm{};
  tm.tm_year = number(0, 4) - 1900;
  tm.tm_mon = number(5, 2) - 1;
  tm.tm_mday = number(8, 2);
  tm.tm_hour = number(11, 2);
  tm.tm_min = number(14, 2);
  tm.tm_sec = number(17, 2);
  const std::tm asked = tm;
  const time_t seconds = timegm(&tm);
  // timegm normalises 2027-02-30 into March: a changed field means no such date.
  if (tm.tm_year != asked.tm_year || tm.tm_mon != asked.tm_mon || tm.tm_mday != asked.tm_mday ||
      tm.tm_hour != asked.tm_hour || tm.tm_min != asked.tm_min || tm.tm_sec != asked.tm_sec) {
    return std::nullopt;
  }
  return SystemClock::from_time_t(seconds);
}

std::vector<TokenEntry> parse_token_file(std::string_view text, const std::string& path) {
  std::vector<TokenEntry> entries;
  int line_number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto fields = split_fields(line);
    if (fields.empty() || fields[0].front() == '#') {
      if (end == text.size()) break;
      continue;
    }
    const std::string where = path + ":" + std::to_string(line_number) + ": ";
    auto fail = [&](const std::string& what) { throw TokenFileError(where + what); };
    // Messages never quote the token field: it is the secret.
    if (fields.size() < 2 || fields.size() > 3) {
      fail("expected '<tenant> <token> [expires=<time>]', found " + std::to_string(fields.size()) +
           " field(s)");
    }
    TokenEntry entry;
    entry.line = line_number;
    if (!valid_tenant(fields[0])) {
      // Not quoted: with the columns swapped, this field is the token.
      fail("the first field (the tenant) may use only A-Z a-z 0-9 . _ -");
    }
    entry.tenant = std::string(fields[0]);
    const std::string_view token = fields[1];
    if (token.starts_with(kDigestPrefix)) {
      const auto digest = parse_hex_digest(token.substr(kDigestPrefix.size()));
      if (!digest) fail("sha256: must be followed by exactly 64 hex digits");
      entry.digest = *digest;
    } else {
      if (token.size() < kMinTokenLength) {
        fail("the token is " + std::to_string(token.size()) + " characters; at least " +
             std::to_string(kMinTokenLength) + " are required");
      }
      for (char c : token) {
        if (c < 0x21 || c > 0x7e) fail("the token has a character outside printable ASCII");
      }
      entry.digest = sha256_of(token);
    }
    if (fields.size() == 3) {
      if (!fields[2].starts_with(kExpiresPrefix)) {
        fail("the third field must be expires=<time>");
      }
      const std::string_view when = fields[2].substr(kExpiresPrefix.size());
      entry.expires = parse_rfc3339_utc(when);
      if (!entry.expires) {
        fail("expires='" + std::string(when) +
             "' is not an RFC 3339 UTC time like 2027-01-01T00:00:00Z");
      }
    }
    for (const TokenEntry& other : entries) {
      if (other.digest == entry.digest) {
        fail("the same token as line " + std::to_string(other.line) + " (tenant " + other.tenant +
             "); every token must be unique");
      }
    }
    entries.push_back(std::move(entry));
    if (end == text.size()) break;
  }
  return entries;
}

TokenStore::TokenStore(std::filesystem::path path) : path_(std::move(path)) {
  auto [entries, stamp] = load();
  table_ = std::make_shared<const std::vector<TokenEntry>>(std::move(entries));
  stamp_ = stamp;
}

std::pair<std::vector<TokenEntry>, TokenStore::FileStamp> TokenStore::load() const {
  const std::string name = path_.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) {
    throw TokenFileError(name + ": cannot read the token file: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw TokenFileError(name + ": not a regular file");
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw TokenFileError(name + ": cannot open the token file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  auto entries = parse_token_file(text.str(), name);
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    server_logger()->warn("token file {} is accessible to group/other (mode {:o}); chmod 600 it",
                          name, st.st_mode & 0777);
  }
  if (entries.empty())
    server_logger()->warn("token file {} holds no tokens: every call is refused", name);
  FileStamp stamp;
  stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  stamp.size = st.st_size;
  stamp.inode = st.st_ino;
  return {std::move(entries), stamp};
}

TokenStore::Lookup TokenStore::lookup(std::string_view token, SystemClock::time_point now) const {
  std::shared_ptr<const std::vector<TokenEntry>> table;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    table = table_;
  }
  const TokenDigest digest = sha256_of(token);
  // Every entry is compared, in constant time, whichever matches.
  const TokenEntry* match = nullptr;
  for (const TokenEntry& entry : *table) {
    if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0) match = &entry;
  }
  Lookup result;
  if (match == nullptr) return result;
  if (match->expires && now >= *match->expires) {
    result.outcome = Outcome::kExpired;
    return result;
  }
  result.outcome = Outcome::kValid;
  result.tenant = match->tenant;
  return result;
}

std::optional<std::string> TokenStore::reload() {
  try {
    auto [entries, stamp] = load();
    const size_t n = entries.size();
    auto table = std::make_shared<const std::vector<TokenEntry>>(std::move(entries));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      table_ = std::move(table);
      stamp_ = stamp;
    }
    server_logger()->info("token file {} reloaded: {} tokens", path_.string(), n);
    return std::nullopt;
  } catch (const std::exception& e) {
    // Keep serving with the tokens we had: a typo must not lock everyone out.
    server_logger()->error("token file not reloaded, the previous tokens stay in force: {}",
                           e.what());
    return std::string(e.what());
  }
}

bool TokenStore::reload_if_changed() {
  struct stat st {};
  FileStamp now;
  if (::stat(path_.c_str(), &st) == 0) {
    now.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    now.size = st.st_size;
    now.inode = st.st_ino;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (now == stamp_) return false;
    // A failed reload is not retried until the file changes again.
    stamp_ = now;
  }
  return !reload().has_value();
}

size_t TokenStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return table_->size();
}

}  // namespace infini::server
